//! A serde adapter that keeps decoding safe from hostile messages. It sits between
//! bincode's deserializer and the type being decoded, passes everything through, and adds
//! four rules:
//!
//! 1. **Depth.** A recursive type (`enum Chain { End, Link(Box<Chain>) }`, a tree) can be
//!    nested as deep as the message is long, one byte a level, and decoding recurses once a
//!    level: sixty thousand levels overflow the stack, which aborts the process. Past
//!    [`MAX_DEPTH`] levels the message is refused.
//! 2. **Reservations.** serde's collections reserve room for as many elements as the
//!    message announces (up to 1 MiB). The adapter passes on announcements out of one
//!    budget, one element per byte of the message, so that what is reserved ahead stays in
//!    proportion to what arrived.
//! 3. **Strings and byte buffers** are read where they lie in the message, so that a length
//!    is checked against the bytes that are really there *before* anything is allocated
//!    (bincode's own path for an owned `String` allocates first, then finds the bytes
//!    missing); the visitor still receives the owned value it asked for. A message decoded
//!    as it arrives (see [`Source`](super::Source)) has its strings and byte buffers read
//!    straight into the buffer that becomes the value: a length is checked against what is
//!    left of the message, and costs the memory of what arrives (the source reserves
//!    address space for the rest, not memory).
//! 4. **Elements.** An element of a zero-sized type (`()`, a unit struct) takes no byte,
//!    so nine bytes can announce 2⁶⁴ of them, which decoding would count out one by one,
//!    for ever, and a type that allocates for each (a `LinkedList<()>`, a `Vec<Rc<()>>`)
//!    would take memory without end. So the elements of all the message's sequences and
//!    maps together may number the bytes of the message plus [`FREE_ELEMENTS`] (plus what
//!    the caller vouches for: a pool's parent knows how many results a chunk has). In a
//!    message in a slice, each announced length is taken from that budget before its
//!    elements are decoded, and one over it is refused at once; in a message decoded as
//!    it arrives, the elements are counted against the bytes that have come, so that a
//!    length that lies costs what arrives. Every other element takes a byte at least, so
//!    only sequences of nothing reach the limit. What a hostile message can still cost is
//!    the receiver's type's to say: [`FREE_ELEMENTS`] values built of no byte (a fraction
//!    of a second for a `Vec<()>`, 512 MiB for a `LinkedList<()>`, more for a type whose
//!    skipped fields are big).
//!
//! No maintained crate does this for serde (`serde_stacker` grows the stack instead, which
//! moves the limit to memory); it is plain forwarding, one wrapper per serde trait.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::Source;

/// The deepest nesting a message may have: compound values (structs, tuples, sequences,
/// maps, enum variants, `Some`) inside one another. Deep enough for the data a program
/// sends on purpose; shallow enough that decoding needs a fraction of a thread's default
/// stack (2 MiB): about 300 KiB in a debug build.
pub const MAX_DEPTH: usize = 256;

/// The elements a message's sequences and maps may hold beyond one per byte of the
/// message (rule 4): 16 Mi. Room for a program's own lists of `()`, millions of them
/// (and for a pool's results there is no limit: the parent knows how many a chunk has);
/// what a hostile message can make the receiver build of nothing is bounded by the
/// receiver's type (a `LinkedList<()>` of 16 Mi nodes is 512 MiB). A longer list of
/// nothing is sent, and refused by the receiver: send its length instead.
pub const FREE_ELEMENTS: usize = 1 << 24;

/// What a message may take, shared by every wrapper that decodes it.
pub(super) struct Budget {
    /// The message's length in bytes.
    len: usize,
    /// Elements that may be reserved ahead (rule 2).
    reserve: Cell<usize>,
    /// Elements of sequences and maps left to decode, in a message in a slice; the number
    /// decoded so far, in a message decoded as it arrives (rule 4).
    elements: Cell<usize>,
}

impl Budget {
    /// The budget of a message in a slice of `len` bytes, whose caller vouches for
    /// `vouched` elements more (those of a list it knows the length of).
    pub(super) fn in_slice(len: usize, vouched: usize) -> Budget {
        Budget {
            len,
            reserve: Cell::new(len),
            elements: Cell::new(len.saturating_add(FREE_ELEMENTS).saturating_add(vouched)),
        }
    }

    /// The budget of a message of `len` bytes decoded as it arrives.
    pub(super) fn streamed(len: usize) -> Budget {
        Budget {
            len,
            reserve: Cell::new(len),
            elements: Cell::new(0),
        }
    }
}

/// What every wrapper carries: the levels left, the message's budget, and, for a message
/// decoded as it arrives, where its bytes come from.
#[derive(Clone, Copy)]
struct Limits<'b> {
    depth_left: usize,
    budget: &'b Budget,
    source: Option<&'b RefCell<dyn Source + 'b>>,
}

impl<'b> Limits<'b> {
    /// One level down, or an error if there is none left.
    fn enter<E: de::Error>(self) -> Result<Limits<'b>, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Limits { depth_left, ..self }),
            None => Err(E::custom(format_args!(
                "the message nests values deeper than {MAX_DEPTH} levels"
            ))),
        }
    }

    /// The part of an announced length that may be reserved ahead, taken from the budget.
    fn grant(self, announced: Option<usize>) -> Option<usize> {
        let reserve = &self.budget.reserve;
        let granted = announced?.min(reserve.get());
        reserve.set(reserve.get() - granted);
        Some(granted)
    }

    /// Takes the `announced` elements of a sequence or a map from the budget, in a
    /// message in a slice: `true` if so, and its elements need no count of their own; an
    /// error if the budget has not that many. `false` in a message decoded as it arrives,
    /// or for a container that does not say how many it holds: they are counted one by
    /// one (see [`count`](Self::count)).
    fn charge<E: de::Error>(self, announced: Option<usize>) -> Result<bool, E> {
        match announced {
            Some(n) if self.source.is_none() => {
                let elements = &self.budget.elements;
                let left = elements.get().checked_sub(n).ok_or_else(too_many)?;
                elements.set(left);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Counts one element decoded: in a message decoded as it arrives, the elements may
    /// number the bytes that have come plus [`FREE_ELEMENTS`].
    fn count<E: de::Error>(self) -> Result<(), E> {
        let elements = &self.budget.elements;
        let allowed = match self.source {
            Some(source) => {
                let arrived = self.budget.len - source.borrow().remaining();
                let decoded = elements.get() + 1;
                elements.set(decoded);
                decoded <= arrived.saturating_add(FREE_ELEMENTS)
            }
            None => match elements.get().checked_sub(1) {
                Some(left) => {
                    elements.set(left);
                    true
                }
                None => false,
            },
        };
        if allowed { Ok(()) } else { Err(too_many()) }
    }
}

/// The error of a message whose sequences hold more elements than rule 4 allows.
fn too_many<E: de::Error>() -> E {
    E::custom(format_args!(
        "the message's sequences hold more elements than its length allows (one a byte, \
         and {FREE_ELEMENTS} more): values that take no byte, such as `()`, which a corrupt or \
         hostile message may announce without end"
    ))
}

/// The seed that decodes a whole message of `bytes` bytes as what `seed` decodes.
pub(super) struct Message<'b, S> {
    seed: S,
    limits: Limits<'b>,
}

impl<'b, S> Message<'b, S> {
    /// A message in a slice: strings and byte buffers are borrowed from it.
    pub(super) fn new(seed: S, budget: &'b Budget) -> Self {
        Message {
            seed,
            limits: Limits {
                depth_left: MAX_DEPTH,
                budget,
                source: None,
            },
        }
    }

    /// A message read from `source` as it is decoded: strings and byte buffers are read from
    /// it by the guard itself, straight into their own buffers.
    pub(super) fn streamed(
        seed: S,
        budget: &'b Budget,
        source: &'b RefCell<dyn Source + 'b>,
    ) -> Self {
        Message {
            seed,
            limits: Limits {
                depth_left: MAX_DEPTH,
                budget,
                source: Some(source),
            },
        }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Message<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Guarded {
            inner,
            limits: self.limits,
        })
    }
}

/// The deserializer, guarded.
struct Guarded<'b, D> {
    inner: D,
    limits: Limits<'b>,
}

/// A visitor, guarded: it enters a level for each compound value it is shown.
struct Guard<'b, V> {
    inner: V,
    limits: Limits<'b>,
    /// The visitor asked for an owned `String` or `Vec<u8>`, which the adapter reads as a
    /// borrowed one (rule 3): hand it over owned.
    wants_owned: bool,
    /// The visitor asked for a sequence or a map, whose elements count (rule 4); a
    /// tuple's or a struct's number is the type's.
    counts_elements: bool,
}

impl<'b, D> Guarded<'b, D> {
    fn guard<V>(&self, inner: V) -> Guard<'b, V> {
        Guard {
            inner,
            limits: self.limits,
            wants_owned: false,
            counts_elements: false,
        }
    }

    /// [`guard`](Self::guard) for a sequence or a map, whose elements count (rule 4).
    fn counted<V>(&self, inner: V) -> Guard<'b, V> {
        Guard {
            counts_elements: true,
            ..self.guard(inner)
        }
    }
}

/// `fn deserialize_*(self, [args,] visitor)`: the same call on the inner deserializer,
/// with the visitor guarded.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.guard(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.counted(visitor);
        self.inner.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.counted(visitor);
        self.inner.deserialize_map(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = Guard {
            wants_owned: true,
            ..self.guard(visitor)
        };
        match self.limits.source {
            Some(source) => visitor.visit_string(read_string(source)?),
            None => self.inner.deserialize_str(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = Guard {
            wants_owned: true,
            ..self.guard(visitor)
        };
        match self.limits.source {
            Some(source) => visitor.visit_byte_buf(read_bytes(source)?),
            None => self.inner.deserialize_bytes(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.guard(visitor);
        match self.limits.source {
            Some(source) => visitor.visit_str(&read_string(source)?),
            None => self.inner.deserialize_str(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.guard(visitor);
        match self.limits.source {
            Some(source) => visitor.visit_bytes(&read_bytes(source)?),
            None => self.inner.deserialize_bytes(visitor),
        }
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The bytes of a string or a byte buffer in a streamed message: its length (bincode's
/// variable-length integer), checked against what is left of the message, then the bytes.
fn read_bytes<E: de::Error>(source: &RefCell<dyn Source + '_>) -> Result<Vec<u8>, E> {
    let mut source = source.borrow_mut();
    let len = super::read_length(&mut *source).map_err(E::custom)?;
    if len > source.remaining() as u64 {
        return Err(E::custom(format_args!(
            "a length of {len} bytes, with {} bytes left in the message",
            source.remaining()
        )));
    }
    source.read_owned(len as usize).map_err(E::custom)
}

fn read_string<E: de::Error>(source: &RefCell<dyn Source + '_>) -> Result<String, E> {
    String::from_utf8(read_bytes(source)?).map_err(E::custom)
}

/// `fn visit_*(self, v)` for plain values: passed through.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guard<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_string(String);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        if self.wants_owned {
            self.inner.visit_string(v.to_owned())
        } else {
            self.inner.visit_str(v)
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if self.wants_owned {
            self.inner.visit_string(v.to_owned())
        } else {
            self.inner.visit_borrowed_str(v)
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        if self.wants_owned {
            self.inner.visit_byte_buf(v.to_vec())
        } else {
            self.inner.visit_bytes(v)
        }
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        if self.wants_owned {
            self.inner.visit_byte_buf(v.to_vec())
        } else {
            self.inner.visit_borrowed_bytes(v)
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let limits = self.limits.enter()?;
        self.inner.visit_some(Guarded { inner, limits })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let limits = self.limits.enter()?;
        self.inner.visit_newtype_struct(Guarded { inner, limits })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let limits = self.limits.enter()?;
        let inner = Guarded { inner, limits };
        if !self.counts_elements || limits.charge(inner.inner.size_hint())? {
            self.inner.visit_seq(inner)
        } else {
            self.inner.visit_seq(Counted(inner))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let limits = self.limits.enter()?;
        let inner = Guarded { inner, limits };
        if !self.counts_elements || limits.charge(inner.inner.size_hint())? {
            self.inner.visit_map(inner)
        } else {
            self.inner.visit_map(Counted(inner))
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let limits = self.limits.enter()?;
        self.inner.visit_enum(Guarded { inner, limits })
    }
}

/// A seed, guarded: what it decodes is decoded through a guarded deserializer.
struct GuardedSeed<'b, S> {
    inner: S,
    limits: Limits<'b>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for GuardedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Guarded {
            inner,
            limits: self.limits,
        })
    }
}

impl<'b, A> Guarded<'b, A> {
    fn seed<S>(&self, inner: S) -> GuardedSeed<'b, S> {
        GuardedSeed {
            inner,
            limits: self.limits,
        }
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Guarded<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.limits.grant(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Guarded<'_, A> {
    type Error = A::Error;

    fn next_key_seed<S>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S>(&mut self, seed: S) -> Result<S::Value, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.limits.grant(self.inner.size_hint())
    }
}

/// A sequence or a map whose elements are counted one by one (rule 4): one in a message
/// decoded as it arrives, or one that does not say how many it holds.
struct Counted<'b, A>(Guarded<'b, A>);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Counted<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let element = self.0.next_element_seed(seed)?;
        if element.is_some() {
            self.0.limits.count()?;
        }
        Ok(element)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Counted<'_, A> {
    type Error = A::Error;

    fn next_key_seed<S>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let key = self.0.next_key_seed(seed)?;
        if key.is_some() {
            self.0.limits.count()?;
        }
        Ok(key)
    }

    fn next_value_seed<S>(&mut self, seed: S) -> Result<S::Value, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, 'b, A: EnumAccess<'de>> EnumAccess<'de> for Guarded<'b, A> {
    type Error = A::Error;
    type Variant = Guarded<'b, A::Variant>;

    fn variant_seed<S>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let (limits, seed) = (self.limits, self.seed(seed));
        let (value, inner) = self.inner.variant_seed(seed)?;
        Ok((value, Guarded { inner, limits }))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Guarded<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S>(self, seed: S) -> Result<S::Value, A::Error>
    where
        S: DeserializeSeed<'de>,
    {
        let seed = self.seed(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V>(self, len: usize, visitor: V) -> Result<V::Value, A::Error>
    where
        V: Visitor<'de>,
    {
        let visitor = self.guard(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error>
    where
        V: Visitor<'de>,
    {
        let visitor = self.guard(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}
