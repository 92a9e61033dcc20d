//! A call that another process can make: a plain `fn`, by where it is in the program.
//!
//! A closure cannot go to a process that is already running, nor to a fresh copy of the
//! program: its captures are memory of this process. A plain `fn` is code, and every
//! process running the same program file has the same code. Python sends a function by
//! its name (pickle writes `module.qualname`); here it goes by its *place in the program*.
//!
//! Under ASLR a program started with `exec` is loaded at a different address each time, but
//! the kernel moves it as one block: the distance between two places in the program is the
//! same in every process running the same file. So a function travels as its distance from
//! the program's entry point (`getauxval(AT_ENTRY)`, the loaded address of the ELF entry),
//! and the callee adds its own entry point back. That is sound because:
//!
//! - the callee runs the *same file*: a `spawn` child executes `/proc/self/exe` (the very
//!   file the parent runs, even if its path was replaced since), and a forkserver child is a
//!   fork of the parent's image; the callee checks the file's identity (device, inode,
//!   size, modification time) against the caller's anyway, and refuses a mismatch;
//! - both addresses are checked, in the caller, to lie in the program file's own code (not
//!   in a shared library, which is loaded at a distance of its own);
//! - the function's type travels with it: beside the function's address goes that of a
//!   *trampoline*, `run_one::<fn(A) -> R>`, instantiated for the type of the function it
//!   was made with, which decodes an `A`, calls the function and encodes the `R`. The
//!   callee calls the trampoline, and the trampoline the function: nothing else.
//!
//! [procspawn] sends functions the same way, by their distance from its `init` function;
//! it finds the program again by its path, though, which a rebuild can change.
//!
//! [procspawn]: https://docs.rs/procspawn

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Unexpected, VariantAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{Error, Result};
use crate::panics;

/// A function and the trampoline of its type, by their distance from the entry point.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub(crate) struct Call {
    program: Program,
    trampoline: i64,
    function: i64,
}

/// What the callee runs a call with: the type-erased trampoline.
type Trampoline = unsafe fn(usize, &[u8]) -> std::result::Result<Vec<u8>, Failure>;

/// Why a call, or a pool's task, gave no result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Failure {
    /// The function panicked: the message, and where.
    Panicked(String),
    /// The arguments did not decode (or the call could not run): why.
    Decode(String),
    /// The result did not encode: why, in its `Serialize`'s words.
    Encode(String),
    /// The result's encoding is this long, over the message limit.
    TooLarge(u64),
}

impl Failure {
    /// The failure for an error of the codec: decoding or encoding, in the error's own
    /// words (the `Error`'s would say it twice once the failure is an `Error` again).
    pub(crate) fn codec(e: Error) -> Failure {
        match e {
            Error::Encode(why) => Failure::Encode(why),
            Error::Decode(why) => Failure::Decode(why),
            other => Failure::Decode(other.to_string()),
        }
    }

    /// The same failure, its text cut to at most `len` bytes (at a character's boundary),
    /// so that its report fits a message limit.
    pub(crate) fn shortened(mut self, len: usize) -> Failure {
        if let Failure::Panicked(text) | Failure::Decode(text) | Failure::Encode(text) = &mut self
            && text.len() > len
        {
            let end = (0..=len).rev().find(|&end| text.is_char_boundary(end));
            text.truncate(end.unwrap_or(0));
        }
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panicked(message) => write!(f, "it panicked: {message}"),
            Failure::Decode(why) => write!(f, "its arguments did not decode: {why}"),
            Failure::Encode(why) => write!(f, "its result did not encode: {why}"),
            Failure::TooLarge(len) => write!(f, "its result is {len} bytes, over the limit"),
        }
    }
}

/// The program file's identity: a callee running another file must refuse a call.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Program {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
}

/// What this process knows of its program, found once.
struct Image {
    program: Program,
    /// Where the program file's executable code is mapped.
    code: Vec<(usize, usize)>,
    entry: usize,
}

/// A plain function of one of the shapes that can be called in another process: a
/// `fn(A) -> R`, or a `fn(A, B) -> R` called with a pair (Python's `starmap`). Sealed: the
/// trampolines rely on every implementer being a function pointer.
pub(crate) trait Function: Copy + 'static + private::Sealed {
    /// What the function is called with.
    type Args: Serialize + DeserializeOwned;
    /// What it returns.
    type Output: Serialize + DeserializeOwned;
    /// Calls it.
    fn call(self, args: Self::Args) -> Self::Output;
    /// Its address.
    fn address(self) -> usize;
}

mod private {
    pub trait Sealed {}
    impl<A, R> Sealed for fn(A) -> R {}
    impl<A, B, R> Sealed for fn(A, B) -> R {}
}

impl<A, R> Function for fn(A) -> R
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    type Args = A;
    type Output = R;

    fn call(self, args: A) -> R {
        self(args)
    }

    fn address(self) -> usize {
        self as usize
    }
}

impl<A, B, R> Function for fn(A, B) -> R
where
    A: Serialize + DeserializeOwned + 'static,
    B: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    type Args = (A, B);
    type Output = R;

    fn call(self, (a, b): (A, B)) -> R {
        self(a, b)
    }

    fn address(self) -> usize {
        self as usize
    }
}

impl Call {
    /// The call of `function` on one argument, for another process running this program.
    pub(crate) fn one<F: Function>(function: F) -> Result<Call> {
        Call::new(run_one::<F>, function.address())
    }

    /// The call of `function` on each argument of a list (a chunk of a pool's map): the
    /// result is a list of the results, or of why there is none, item by item.
    pub(crate) fn each<F: Function>(function: F) -> Result<Call> {
        Call::new(run_each::<F>, function.address())
    }

    fn new(trampoline: Trampoline, function: usize) -> Result<Call> {
        let image = image()?;
        let trampoline = trampoline as usize;
        for address in [trampoline, function] {
            if !image
                .code
                .iter()
                .any(|&(start, end)| start <= address && address < end)
            {
                return Err(Error::NotInProgram);
            }
        }
        let distance = |address: usize| address as i64 - image.entry as i64;
        Ok(Call {
            program: image.program,
            trampoline: distance(trampoline),
            function: distance(function),
        })
    }

    /// Whether this process runs the program file the call was made for.
    pub(crate) fn check(&self) -> Result<()> {
        if self.program == image()?.program {
            Ok(())
        } else {
            Err(Error::NotInProgram)
        }
    }

    /// Makes the call in this process, with `args` encoded as the function's argument;
    /// returns the result, encoded.
    pub(crate) fn run(&self, args: &[u8]) -> Result<std::result::Result<Vec<u8>, Failure>> {
        self.check()?;
        let entry = image()?.entry;
        let address = |distance: i64| (entry as i64 + distance) as usize;
        // SAFETY: `self.trampoline` is the distance of a `Trampoline` from the entry point in
        // the caller's image (`Call::new` took it from one, and checked that it lies in the
        // program's code), and this process runs the same program file (checked above), so
        // the same distance from this process's entry point is the same function. A `Call`
        // comes only from `Call::new`, or from the socket of the process that made it.
        let trampoline =
            unsafe { std::mem::transmute::<usize, Trampoline>(address(self.trampoline)) };
        // SAFETY: the same holds for the function, and this trampoline is the one
        // instantiated for the function's type.
        Ok(unsafe { trampoline(address(self.function), args) })
    }
}

/// The function of type `F` at `address`.
///
/// # Safety
///
/// `address` must be the address of a function of type `F` in this process.
unsafe fn function_at<F: Function>(address: usize) -> F {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<usize>()) };
    // SAFETY: `F` is a function pointer (the trait is sealed), as big as a `usize` (checked
    // at compile time), and the caller guarantees the address holds such a function.
    unsafe { std::mem::transmute_copy::<usize, F>(&address) }
}

/// The trampoline for one call: decodes the argument, calls, encodes the result.
///
/// # Safety
///
/// `function` must be the address of a function of type `F` in this process.
unsafe fn run_one<F: Function>(
    function: usize,
    args: &[u8],
) -> std::result::Result<Vec<u8>, Failure> {
    // SAFETY: passed on from the caller.
    let function = unsafe { function_at::<F>(function) };
    let args: F::Args = codec::decode_call(args).map_err(Failure::codec)?;
    let result = catch(|| function.call(args))?;
    encode(&result)
}

/// The outcome of a chunk: most chunks have no failure, and travel as plain results; only a
/// chunk with a failure pays for an outcome per item. The parent reads it with
/// [`Outcomes::decode_appending`].
#[derive(Serialize)]
pub(crate) enum Outcomes<R> {
    /// Every item's result.
    All(Vec<R>),
    /// Each item's result, or why there is none.
    Each(Vec<std::result::Result<R, Failure>>),
}

impl<R: DeserializeOwned> Outcomes<R> {
    /// Decodes the outcomes of a chunk of `len` items, the results of an `All` straight
    /// onto the end of `results`, where they stay (a list of their own would be fresh
    /// memory, and a copy): `None` then, or an `Each`'s outcomes, for the caller to look at
    /// one by one. Outcomes for more or fewer than `len` items are an error (a worker that
    /// misbehaves, or a forged message), and so is a message that is not outcomes; after
    /// an error, `results` may hold some of the chunk's results.
    pub(crate) fn decode_appending(
        bytes: &[u8],
        results: &mut Vec<R>,
        len: usize,
    ) -> Result<Option<Vec<std::result::Result<R, Failure>>>> {
        let seed = AppendOutcomes { results, len };
        let (count, each) = codec::decode_call_seed(bytes, seed, len)?;
        if count != len {
            return Err(Error::Decode(format!(
                "a worker answered {count} outcomes for a chunk of {len} items"
            )));
        }
        Ok(each)
    }
}

/// The seed of [`Outcomes::decode_appending`]: how many outcomes came, and an `Each`'s.
/// It reads the variants by the numbers the derived `Serialize` gives them: `All` is 0,
/// `Each` is 1.
struct AppendOutcomes<'a, R> {
    results: &'a mut Vec<R>,
    len: usize,
}

type Decoded<R> = (usize, Option<Vec<std::result::Result<R, Failure>>>);

impl<'de, R: Deserialize<'de>> DeserializeSeed<'de> for AppendOutcomes<'_, R> {
    type Value = Decoded<R>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        inner: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        inner.deserialize_enum("Outcomes", &["All", "Each"], self)
    }
}

impl<'de, R: Deserialize<'de>> Visitor<'de> for AppendOutcomes<'_, R> {
    type Value = Decoded<R>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a chunk's outcomes")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> std::result::Result<Self::Value, A::Error> {
        let most = self.len;
        match data.variant::<u32>()? {
            (0, all) => {
                let out = self.results;
                all.newtype_variant_seed(codec::Append { out, most })
                    .map(|count| (count, None))
            }
            (1, each) => {
                let mut outcomes = Vec::new();
                let out = &mut outcomes;
                let count = each.newtype_variant_seed(codec::Append { out, most })?;
                Ok((count, Some(outcomes)))
            }
            (other, _) => Err(de::Error::invalid_value(
                Unexpected::Unsigned(other.into()),
                &"0 (All) or 1 (Each)",
            )),
        }
    }
}

/// The trampoline for a chunk: decodes a list of arguments, calls on each (a panic is a
/// failure of its item), encodes their [`Outcomes`].
///
/// # Safety
///
/// `function` must be the address of a function of type `F` in this process.
unsafe fn run_each<F: Function>(
    function: usize,
    args: &[u8],
) -> std::result::Result<Vec<u8>, Failure> {
    // SAFETY: passed on from the caller.
    let function = unsafe { function_at::<F>(function) };
    let args: Vec<F::Args> = codec::decode_call(args).map_err(Failure::codec)?;
    match panics::call_each(args.into_iter(), |item| function.call(item)) {
        Ok(results) => encode(&Outcomes::All(results)),
        Err(outcomes) => {
            let failed =
                |outcome: std::result::Result<_, String>| outcome.map_err(Failure::Panicked);
            encode(&Outcomes::Each(outcomes.into_iter().map(failed).collect()))
        }
    }
}

/// Runs `f`, catching a panic as a failure.
fn catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, Failure> {
    panics::catch(f).map_err(Failure::Panicked)
}

fn encode<T: Serialize>(value: &T) -> std::result::Result<Vec<u8>, Failure> {
    codec::encode_call(value).map_err(Failure::codec)
}

/// This process's image, found once: the program file, its code's place, its entry point.
/// A failure is not kept: one for want of a descriptor (to read `/proc/self/maps` with),
/// say, passes once some are closed.
fn image() -> Result<&'static Image> {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    if let Some(image) = IMAGE.get() {
        return Ok(image);
    }
    let found = find_image()?;
    Ok(IMAGE.get_or_init(|| found))
}

fn find_image() -> std::io::Result<Image> {
    let file = fs::metadata("/proc/self/exe")?;
    let program = Program {
        device: file.dev(),
        inode: file.ino(),
        size: file.size(),
        modified: (file.mtime(), file.mtime_nsec()),
    };
    // The program's executable mappings: "start-end perms offset dev inode path", with
    // this file's inode, and `x` in the permissions.
    let maps = fs::read_to_string("/proc/self/maps")?;
    let code = maps
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (range, perms, inode) = (fields.first()?, fields.get(1)?, fields.get(4)?);
            if !perms.contains('x') || inode.parse::<u64>().ok()? != program.inode {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let hex = |s: &str| usize::from_str_radix(s, 16).ok();
            Some((hex(start)?, hex(end)?))
        })
        .collect();
    // SAFETY: getauxval(3) reads the auxiliary vector the kernel gave this process; it
    // returns 0 for a type it does not have.
    let entry = unsafe { nix::libc::getauxval(nix::libc::AT_ENTRY) } as usize;
    Ok(Image {
        program,
        code,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunks_outcomes_decode_onto_the_end_of_the_results() {
        let mut results = vec![1u64];
        let all = codec::encode_call(&Outcomes::All(vec![2u64, 3])).unwrap();
        let decoded = Outcomes::decode_appending(&all, &mut results, 2);
        assert!(matches!(decoded, Ok(None)));
        assert_eq!(results, [1, 2, 3]);

        let each = Outcomes::Each(vec![Ok(4u64), Err(Failure::Panicked("no".into()))]);
        let each = codec::encode_call(&each).unwrap();
        let outcomes = Outcomes::decode_appending(&each, &mut results, 2).unwrap();
        assert!(matches!(
            outcomes.as_deref(),
            Some([Ok(4), Err(Failure::Panicked(why))]) if why == "no"
        ));
        let unchanged = "an Each's outcomes are the caller's to look at";
        assert_eq!(results, [1, 2, 3], "{unchanged}");
    }

    #[test]
    fn outcomes_with_an_unknown_variant_are_an_error() {
        let mut bytes = codec::encode_call(&Outcomes::All(vec![2u64])).unwrap();
        bytes[..4].copy_from_slice(&2u32.to_le_bytes());
        let decoded = Outcomes::decode_appending(&bytes, &mut Vec::<u64>::new(), 1);
        assert!(
            matches!(decoded, Err(Error::Decode(_))),
            "{:?}",
            decoded.map(drop)
        );
    }

    /// A result that counts how many times one was decoded, in this thread.
    struct Counted;

    thread_local! {
        static DECODED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    impl<'de> Deserialize<'de> for Counted {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Counted, D::Error> {
            DECODED.with(|n| n.set(n.get() + 1));
            <()>::deserialize(d).map(|()| Counted)
        }
    }

    #[test]
    fn outcomes_for_more_items_than_the_chunk_has_are_refused_after_one_more() {
        let all = codec::encode_call(&Outcomes::All(vec![(); 100])).unwrap();
        let each = codec::encode_call(&Outcomes::<()>::Each(vec![Ok(()); 100])).unwrap();
        for forged in [all, each] {
            DECODED.with(|n| n.set(0));
            let decoded = Outcomes::decode_appending(&forged, &mut Vec::<Counted>::new(), 3);
            assert!(
                matches!(decoded, Err(Error::Decode(_))),
                "{:?}",
                decoded.map(drop)
            );
            assert_eq!(
                DECODED.with(|n| n.get()),
                4,
                "decoded past the chunk's length"
            );
        }
    }

    #[test]
    fn a_forged_count_of_empty_results_is_refused_at_once() {
        // A list of `()` takes no bytes per value: 12 bytes may claim any number of them.
        // (Past `codec::FREE_ELEMENTS`, the codec refuses them before any is decoded; a
        // thousand are the chunk's bound to refuse.)
        let forged = [0u32.to_le_bytes().as_slice(), &1000u64.to_le_bytes()].concat();
        let mut results = Vec::<()>::new();
        let decoded = Outcomes::decode_appending(&forged, &mut results, 3);
        assert!(
            matches!(decoded, Err(Error::Decode(_))),
            "{:?}",
            decoded.map(drop)
        );
        assert_eq!(
            results.len(),
            3,
            "the value past the bound is refused, not added"
        );
    }

    #[test]
    fn outcomes_for_fewer_items_than_the_chunk_has_are_an_error() {
        let mut results = Vec::<u64>::new();
        let all = codec::encode_call(&Outcomes::All(vec![2u64, 3])).unwrap();
        let decoded = Outcomes::decode_appending(&all, &mut results, 3);
        assert!(matches!(decoded, Err(Error::Decode(why)) if why.contains("2 outcomes")));
        let each = codec::encode_call(&Outcomes::<u64>::Each(vec![Ok(4)])).unwrap();
        let decoded = Outcomes::decode_appending(&each, &mut results, 3);
        assert!(matches!(decoded, Err(Error::Decode(why)) if why.contains("1 outcomes")));
    }
}
