#!/usr/bin/env bash
# Builds the book and checks it, from a clean clone:
#   1. installs what is missing: mdBook and mdbook-linkcheck2 (pinned, with cargo),
#      Debian's chromium (apt), playwright-core (npm, into book/node_modules);
#   2. checks the sources: every {{#include …:anchor}} names an anchor that exists, every
#      snapshot include starts right after the snapshot's YAML header, and every listing
#      of a chapter page has a caption naming its file;
#   3. builds the book; a missing page, a broken internal link or a missing include fails;
#   4. opens every page in headless Chromium (see browser-check.mjs): an unresolved
#      include, an empty listing, a diagram that did not render, a listing or table too
#      wide at 1280 px, diagram text under 9 px at 420 px, a chapter page without its
#      captions, recap or terminal-style output, or a Performance page without its
#      benchmark table and charts fails.
# Usage: bash book/check.sh [--screenshots DIR]   (from any directory; safe to re-run)
set -euo pipefail
shopt -s extglob

MDBOOK_VERSION=0.5.4
LINKCHECK_VERSION=0.13.0
PLAYWRIGHT_VERSION=1.64

BOOK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BOOK")"
OUT="$BOOK/book"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
SHOTS=()
if [[ $# -gt 0 ]]; then
  [[ $1 == --screenshots && $# -eq 2 ]] || { echo "usage: $0 [--screenshots DIR]" >&2; exit 2; }
  SHOTS=(--screenshots "$(mkdir -p "$2" && cd "$2" && pwd)")
fi

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'book check FAILED: %s\n' "$*" >&2; exit 1; }

step "tools"
# `cargo install` only when the exact pinned version is not already on PATH.
install_crate() { # crate version binary
  local have
  have="$("$3" --version 2>/dev/null || true)" # e.g. "mdbook v0.5.4"
  have="${have##* }"
  if [[ ${have#v} == "$2" ]]; then
    echo "$3 $2 already installed"
  else
    echo "installing $1 $2 (a few minutes)"
    cargo install "$1" --version "$2" --locked
  fi
}
install_crate mdbook "$MDBOOK_VERSION" mdbook
install_crate mdbook-linkcheck2 "$LINKCHECK_VERSION" mdbook-linkcheck2

need_apt=()
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm) # node >= 20
if [[ ${#need_apt[@]} -gt 0 ]]; then
  echo "installing ${need_apt[*]} with apt-get"
  sudo=(); [[ $EUID -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
else
  echo "chromium and npm already installed"
fi
/usr/bin/chromium --version 2>/dev/null # its wrapper script complains on stderr

installed_pw="$(node -p "require('$BOOK/node_modules/playwright-core/package.json').version" 2>/dev/null || true)"
if [[ $installed_pw == "$PLAYWRIGHT_VERSION".* ]]; then
  echo "playwright-core $installed_pw already in book/node_modules"
else
  echo "installing playwright-core@$PLAYWRIGHT_VERSION into book/node_modules"
  npm install --prefix "$BOOK" --no-save --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION"
fi

step "sources: include anchors and snapshot headers"
problems=0
while IFS= read -r line; do
  # line: FILE:LINENO:…{{#include PATH:REST}}…
  md="${line%%:*}"
  spec="$(sed -E 's/.*\{\{#include ([^}]+)\}\}.*/\1/' <<<"$line")"
  path="${spec%%:*}"
  rest="${spec#"$path"}"; rest="${rest#:}"
  target="$BOOK/src/$(dirname "$md")/$path"
  if [[ ! -f $target ]]; then
    echo "$md: includes $path, which does not exist"; problems=$((problems + 1)); continue
  fi
  if [[ -n $rest && ! $rest =~ ^[0-9:]*$ ]]; then
    # An anchor: mdBook shows an empty listing, silently, if it is missing.
    if ! grep -q "ANCHOR: $rest\b" "$target" || ! grep -q "ANCHOR_END: $rest\b" "$target"; then
      echo "$md: anchor '$rest' not found in $path"; problems=$((problems + 1))
    fi
  fi
  # A listing of a chapter page is captioned with the file it comes from: above its fence
  # stands `<div class="listing">Listing N-K: <code>FILE</code>…`.
  if [[ $md == ch[0-9][0-9]-*.md && $path == ../../@(chapters|python)/*.@(rs|py) ]]; then
    lineno="${line#*:}"; lineno="${lineno%%:*}"
    # The last line that is not blank before the fence (the line before the include).
    caption="$(awk -v fence=$((lineno - 1)) 'NR < fence && NF { last = $0 } NR == fence { print last; exit }' "$BOOK/src/$md")"
    if [[ $caption != *"<code>${path#../../}</code>"* ]]; then
      echo "$md:$lineno: the listing of ${path#../../} needs the caption <div class=\"listing\">Listing N-K: <code>${path#../../}</code></div> before its fence"
      problems=$((problems + 1))
    fi
  fi
  if [[ $path == *.snap ]]; then
    # Snapshots start with a YAML header between two `---` lines: the include must
    # start on the line right after the second one.
    start="${rest%%:*}"
    header_end="$(awk '/^---$/ { if (++n == 2) { print NR; exit } }' "$target")"
    if [[ -z $start || -z $header_end || $start -ne $((header_end + 1)) ]]; then
      echo "$md: $path must be included from line $((header_end + 1)) (the line after its header), not '${start:-1}'"
      problems=$((problems + 1))
    fi
  fi
done < <(cd "$BOOK/src" && grep -rno '{{#include [^}]*}}' --include='*.md' . | sed 's#^\./##')
[[ $problems -eq 0 ]] || fail "$problems include problem(s) in book/src"
echo "every include names an existing file, anchor and header"

step "mdbook build"
rm -rf "$OUT"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! (cd "$REPO" && mdbook build book) >"$log" 2>&1; then
  cat "$log"; fail "mdbook build (a missing page, or a broken link found by mdbook-linkcheck2)"
fi
cat "$log"
# mdBook only logs a missing include and goes on; treat every error and warning as fatal.
if grep -E '(^|[[:space:]])(ERROR|WARN)[[:space:]]' "$log" >/dev/null; then
  fail "mdbook logged errors or warnings (see above)"
fi
grep -q 'Invoking the "linkcheck2" renderer' "$log" || fail "mdbook-linkcheck2 did not run"
if grep -rl --include='*.html' '{{#' "$OUT/html" >/dev/null; then
  grep -rl --include='*.html' '{{#' "$OUT/html"; fail "unresolved {{#…}} in the built pages above"
fi
echo "built into $OUT/html; links checked"

step "browser check (headless chromium)"
node "$BOOK/browser-check.mjs" "$OUT/html" "${SHOTS[@]}"

step "book check passed"
