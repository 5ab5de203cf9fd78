#!/usr/bin/env python3
"""verify-bundle: checks a Sazesh dossier bundle on its own, with no Sazesh code.

A dossier bundle (format "sazesh-bundle/1") is one case's history, as an agency or auditor is
handed it, with the proof that it is the history the log holds. It is an uncompressed POSIX tar
file holding:

  manifest.json         {"format": "sazesh-bundle/1", "case": "C-…", "origin": "<log origin>",
                         "checkpoint": "checkpoint.txt", "tree_size": S,
                         "events": [{"file": "events/000001.szev", "sequence": 1,
                                     "leaf_index": L, "sha256": "<hex>",
                                     "inclusion_proof": ["<base64 32-byte hash>", …]}, …],
                         "documents": [{"file": "documents/<hex>", "sha256": "<hex>",
                                        "size": N}, …],   (or, for a document erased with its
                                        consumer's personal data: {"sha256": "<hex>", "size": N,
                                        "erased": true}, and no file)
                         "erasure": null, or, when a document is erased, the proof that the
                                    case's consumer was forgotten: {"file": "erasure/forgotten.szev",
                                    "checkpoint": "erasure/checkpoint.txt", "tree_size": S2,
                                    "leaf_index": L2, "sha256": "<hex>",
                                    "inclusion_proof": […]},
                         "built_at": "<ISO time>"}
  events/NNNNNN.szev    each event of the case: the FlatBuffers Envelope bytes exactly as logged
                        (schemas/envelope.fbs, file identifier "SZEV"), in sequence order
  documents/<hex>       each document attached to the case, named by its SHA-256
  checkpoint.txt        a C2SP signed note over a C2SP tlog-checkpoint (origin, tree size,
                        base64 root hash), signed with Ed25519 by the log's key
  erasure/forgotten.szev, erasure/checkpoint.txt
                        with an erased document: the consumer's PartyForgotten Envelope and the
                        signed checkpoint of its partition's tree (the consumer's stream may lie
                        in another partition than the case's)

The log's Merkle tree is RFC 6962 / RFC 9162 (leaf = SHA-256(0x00 || envelope bytes), node =
SHA-256(0x01 || left || right)) over every record of the log (a log on Kafka has one tree per
partition, each in its partition's offset order, and its checkpoints' origin is the key's name
followed by "/partition-" and the partition number; a case lives in one partition); each event
carries the audit path of its leaf index in the checkpoint's tree.

What is checked: the tar is read in memory only (at most 100,000 regular members, 64 MiB each,
1 GiB in all, safe unique names) and holds exactly the files the manifest names; the manifest is
well formed; the checkpoint carries a valid Ed25519 signature by the given verifier key (lines by
other keys are ignored; a bad one by this key is refused), names a tree of that key's log (its
origin is the key's name, or the key's name and "/partition-N") and agrees with the manifest's
origin and tree size; each event's SHA-256 matches the manifest, its inclusion proof leads to the signed
root, it decodes as an Envelope of this case, its sequence is its place (1, 2, 3, …) and its
previous_hash is the SHA-256 of the event before it; each document's SHA-256 and size match the
manifest, every document is attached by a DocumentAttached event and every attached document is
present, or marked erased: then its size is the one attached, and the erasure is proven (the
PartyForgotten envelope of the consumer the case's CaseFiled names, its inclusion proof leading to
the root of its own checkpoint, signed by the same key). The Envelope reader is what `flatc --python` generates from the published schemas.

Usage:
  verify-bundle.py BUNDLE.tar --vkey VKEY [--schemas DIR | --generated DIR] [--json]

  --vkey       the log's C2SP verifier key, "<name>+<8 hex key id>+<base64(0x01 || key)>",
               or a file holding it on one line. Never taken from the bundle.
  --schemas    the folder holding envelope.fbs and events.fbs (default: ../schemas next to this
               script); flatc (2.0.8 or later) turns them into Python in a temporary folder.
  --generated  a folder already holding `flatc --python` output (sazesh/schema/…) to use instead.
  --json       print the result as one JSON object on standard output:
               {"ok": true, "case": …} or {"ok": false, "error": {"where": …, "what": …}}.

Exit codes: 0 the bundle verifies (one line "ok: case C-…: N events, M documents, checkpoint
ORIGIN size S", the documents followed by "(K erased; the consumer's PartyForgotten proven at
leaf L of ORIGIN)" when some are); 1 it does not ("error: FILE: WHAT" on standard error); 2 the command line or
the verifier's own setup is wrong (bad key, missing schemas or flatc, no such bundle file).

Requires Python 3.8+, the `cryptography` package and the `flatbuffers` runtime (Debian:
python3-cryptography, python3-flatbuffers, flatbuffers-compiler).
"""

import argparse
import base64
import binascii
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

try:
    import flatbuffers  # noqa: F401  (the generated code imports it)
except ImportError:
    # Debian's python3-flatbuffers (pure Python) lives in the system interpreter's folder; look
    # there too when this runs under another interpreter of the same Python 3.
    sys.path.append("/usr/lib/python3/dist-packages")
    import flatbuffers  # noqa: F401
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "sazesh-bundle/1"
MANIFEST = "manifest.json"
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "  # EM DASH and a space
FILE_IDENTIFIER = b"SZEV"
HEX64 = re.compile(r"[0-9a-f]{64}")
U64 = 1 << 64


class Failure(Exception):
    """A check that failed: `where` names the file or record, `what` says what failed."""

    code = 1

    def __init__(self, where, what):
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


class SetupError(Failure):
    """The command line or the verifier's own tools are wrong, not the bundle."""

    code = 2


def show(name):
    return name if name.isprintable() else ascii(name)


def describe(x):
    kind = type(x)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"{name}: {x}"


def sha256(data):
    return hashlib.sha256(data).digest()


def b64(text):
    """Strict standard base64 (canonical, padded), or None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


# ---- Keys and the signed checkpoint ------------------------------------------------------------

def valid_key_name(name):
    return bool(name) and "+" not in name and all(c.isprintable() and not c.isspace() for c in name)


def key_id(name, public_key):
    return sha256(name.encode("utf-8") + b"\n\x01" + public_key)[:4]


def load_vkey(arg):
    text = arg
    if os.path.isfile(arg):
        try:
            with open(arg, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise SetupError("--vkey", f"cannot read {arg}: {e}")
    text = text.strip()
    name, _, rest = text.partition("+")
    id_hex, plus, key_text = rest.partition("+")
    if not plus or not valid_key_name(name) or not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise SetupError("--vkey", "not a verifier key <name>+<8 hex key id>+<base64 key>")
    key = b64(key_text)
    if key is None or len(key) != 33 or key[0] != 1:
        raise SetupError("--vkey", "the key is not an Ed25519 key (0x01 and 32 bytes, base64)")
    if key_id(name, key[1:]).hex() != id_hex:
        raise SetupError("--vkey", "the key id does not match the name and key")
    return name, bytes.fromhex(id_hex), Ed25519PublicKey.from_public_bytes(key[1:])


def open_note(data, vkey, where):
    """The text of a C2SP signed note that carries a valid signature by `vkey`."""
    name, kid, public_key = vkey
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(where, "not UTF-8 text")
    if any((c < " " and c != "\n") or c == "\x7f" for c in note):
        raise Failure(where, "holds control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise Failure(where, "not a signed note: no blank line before the signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block.endswith("\n"):
        raise Failure(where, "not a signed note: the signatures do not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Failure(where, f"more than {MAX_SIGNATURES} signature lines")
    verified = False
    for n, line in enumerate(lines, 1):
        signer, space, sig_text = line[len(SIGNATURE_PREFIX):].partition(" ")
        sig = b64(sig_text)
        if (not line.startswith(SIGNATURE_PREFIX) or not space or not valid_key_name(signer)
                or sig is None or len(sig) < 5):
            raise Failure(where, f"signature line {n} is malformed")
        if signer != name or sig[:4] != kid:
            continue  # another key's signature (a witness, say): not ours to judge
        if len(sig) != 4 + 64:
            raise Failure(where, f"signature line {n}: an Ed25519 signature is 64 bytes")
        try:
            public_key.verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise Failure(where, f"the signature by {name} does not verify")
        verified = True
    if not verified:
        raise Failure(where, f"no signature by the key {name}+{kid.hex()}")
    return text


def parse_checkpoint(text, where):
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise Failure(where, "not a checkpoint: origin, size and root hash lines expected")
    origin, size_text, root_text = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text) or int(size_text) >= U64:
        raise Failure(where, f"tree size {size_text!r} is not a decimal number")
    root = b64(root_text)
    if root is None or len(root) != 32:
        raise Failure(where, "the root hash is not 32 bytes in base64")
    return origin, int(size_text), root


# ---- Merkle tree ----------------------------------------------------------------------------------

def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2: whether `proof` is the audit path of leaf `index` in the tree `root`."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# ---- The generated Envelope reader --------------------------------------------------------------

class Schema:
    """The classes flatc generated: Envelope, and each table of the Event union by type number."""

    def __init__(self, root):
        if not os.path.isfile(os.path.join(root, "sazesh", "schema", "Envelope.py")):
            raise SetupError(root, "holds no generated sazesh/schema/Envelope.py")
        sys.path.insert(0, root)
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            mod = lambda name: importlib.import_module(f"sazesh.schema.{name}")  # noqa: E731
            self.Envelope = mod("Envelope").Envelope
            union = mod("Event").Event
            self.event_names = {v: k for k, v in vars(union).items()
                                if not k.startswith("_") and isinstance(v, int) and v != 0}
            self.tables = {k: getattr(mod(k), k) for k in self.event_names.values()}
            self.DOCUMENT_ATTACHED = union.DocumentAttached
            self.CASE_FILED = union.CaseFiled
            self.PARTY_FORGOTTEN = getattr(union, "PartyForgotten", None)
            # Loaded now: the Envelope's reader imports it only when a record is read, by when
            # the folder may be gone (schemas older than sealed personal data have none).
            if os.path.isfile(os.path.join(root, "sazesh", "schema", "Sealed.py")):
                mod("Sealed")
        except Exception as e:  # noqa: BLE001  whatever the generated code does wrong
            raise SetupError(root, f"cannot import the generated code ({describe(e)})")
        finally:
            sys.dont_write_bytecode = saved
            sys.path.remove(root)


def load_schema(schemas, generated):
    if generated:
        return Schema(generated)
    files = [os.path.join(schemas, f) for f in ("envelope.fbs", "events.fbs")]
    for f in files:
        if not os.path.isfile(f):
            raise SetupError(f, "no such schema file (use --schemas DIR)")
    flatc = shutil.which("flatc")
    if not flatc:
        raise SetupError("flatc", "not found on PATH (Debian: apt-get install flatbuffers-compiler)")
    with tempfile.TemporaryDirectory(prefix="verify-bundle-") as tmp:
        run = subprocess.run([flatc, "--python", "-o", tmp, *files], capture_output=True, text=True)
        if run.returncode != 0:
            raise SetupError("flatc", (run.stderr or run.stdout).strip() or f"exit {run.returncode}")
        return Schema(tmp)


class CheckedBytes(bytes):
    """The buffer handed to the generated readers: a slice reaching outside it (a string whose
    length runs past the end) raises instead of coming back short."""

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop = key.start or 0, len(self) if key.stop is None else key.stop
            if not 0 <= start <= stop <= len(self):
                raise IndexError(f"bytes {start}..{stop} lie outside the {len(self)}-byte buffer")
        return bytes.__getitem__(self, key)


def touch(table):
    """Reads every field of a generated table object, so that a damaged one raises here."""
    cls = type(table)
    for name, attr in vars(cls).items():
        if (name.startswith("_") or name == "Init" or not callable(attr)
                or isinstance(attr, (classmethod, staticmethod))
                or name.endswith(("IsNone", "AsNumpy", "Length"))):
            continue
        if callable(vars(cls).get(name + "Length")):
            n = getattr(table, name + "Length")()
            if n:  # the first and last elements: the runtime checks they lie in the buffer
                getattr(table, name)(0)
                getattr(table, name)(n - 1)
        else:
            getattr(table, name)()


def byte_vector(table, name):
    n = getattr(table, name + "Length")()
    if n > 64:
        raise ValueError(f"{name} holds {n} bytes")
    return bytes(getattr(table, name)(j) for j in range(n))


def decode_envelope(data, schema):
    """(stream id, sequence, previous hash, payload type, payload table)."""
    env = schema.Envelope.GetRootAs(CheckedBytes(data), 0)
    touch(env)
    kind = env.PayloadType()
    if kind not in schema.event_names:
        raise ValueError(f"payload type {kind} is not an event these schemas know")
    union = env.Payload()
    payload = schema.tables[schema.event_names[kind]]()
    payload.Init(union.Bytes, union.Pos)
    touch(payload)
    stream = env.StreamId()
    return (stream.decode("utf-8") if stream is not None else None, env.Sequence(),
            byte_vector(env, "PreviousHash"), kind, payload)


# ---- The bundle ---------------------------------------------------------------------------------

def safe_name(name):
    parts = name.split("/")
    return (bool(name) and name.isprintable() and "\\" not in name
            and not any(p in ("", ".", "..") for p in parts))


def read_tar(path):
    """{name: bytes} of the tar's members, read in memory, never extracted."""
    members, total = {}, 0
    try:
        tar = tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as e:
        raise Failure(path, f"not a readable uncompressed tar file ({e})")
    with tar:
        while True:
            try:
                m = tar.next()
            except tarfile.TarError as e:
                raise Failure(path, f"damaged tar file ({e})")
            if m is None:
                return members
            if len(members) >= MAX_MEMBERS:
                raise Failure(path, f"more than {MAX_MEMBERS} members")
            if not safe_name(m.name):
                raise Failure(show(m.name), "unsafe member name (absolute, '..', '.' or empty parts)")
            if m.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                raise Failure(m.name, "not a regular file")
            if m.name in members:
                raise Failure(m.name, "appears twice in the tar")
            if m.size > MAX_MEMBER_BYTES:
                raise Failure(m.name, f"larger than {MAX_MEMBER_BYTES} bytes")
            total += m.size
            if total > MAX_TOTAL_BYTES:
                raise Failure(path, f"members larger than {MAX_TOTAL_BYTES} bytes in all")
            try:
                data = tar.extractfile(m).read()
            except (tarfile.TarError, OSError) as e:
                raise Failure(m.name, f"cannot be read ({e})")
            if len(data) != m.size:
                raise Failure(m.name, "truncated")
            members[m.name] = data


def no_duplicate_keys(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise ValueError(f"key {k!r} appears twice")
        seen.add(k)
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def field(obj, key, kind, at):
    """obj[key], which must be a `kind`: str, int (0 ≤ n < 2^64, not a bool), list or hex."""
    if key not in obj:
        raise Failure(MANIFEST, f"{at}{key} is missing")
    v = obj[key]
    if kind == "hex":
        good = isinstance(v, str) and HEX64.fullmatch(v)
    elif kind is int:
        good = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < U64
    else:
        good = isinstance(v, kind)
    if not good:
        want = {"hex": "64 lower-case hex digits", int: "a whole number 0 ≤ n < 2^64", str: "a string",
                list: "a list"}[kind]
        raise Failure(MANIFEST, f"{at}{key} must be {want}")
    return v


def file_field(obj, at):
    name = field(obj, "file", str, at)
    if not safe_name(name) or name == MANIFEST:
        raise Failure(MANIFEST, f"{at}file {show(name)} is not a member name a bundle can hold")
    return name


def parse_manifest(data):
    try:
        m = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicate_keys,
                       parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise Failure(MANIFEST, f"not JSON ({e})")
    if not isinstance(m, dict):
        raise Failure(MANIFEST, "not a JSON object")
    fmt = field(m, "format", str, "")
    if fmt != FORMAT:
        raise Failure(MANIFEST, f"unknown format {fmt!r} (this verifier reads {FORMAT})")
    for key in ("case", "origin", "built_at"):
        field(m, key, str, "")
    field(m, "tree_size", int, "")
    checkpoint = field(m, "checkpoint", str, "")
    if not safe_name(checkpoint) or checkpoint == MANIFEST:
        raise Failure(MANIFEST, f"checkpoint {show(checkpoint)} is not a member name a bundle can hold")
    events = field(m, "events", list, "")
    if not events:
        raise Failure(MANIFEST, "events is empty: a case has at least one event")
    for i, e in enumerate(events):
        at = f"events[{i}]."
        if not isinstance(e, dict):
            raise Failure(MANIFEST, f"events[{i}] must be an object")
        file_field(e, at)
        field(e, "sequence", int, at)
        field(e, "leaf_index", int, at)
        field(e, "sha256", "hex", at)
        proof = field(e, "inclusion_proof", list, at)
        if len(proof) > 64:
            raise Failure(MANIFEST, f"{at}inclusion_proof holds more than 64 hashes")
        e["proof"] = [b64(p) if isinstance(p, str) else None for p in proof]
        if any(p is None or len(p) != 32 for p in e["proof"]):
            raise Failure(MANIFEST, f"{at}inclusion_proof must hold 32-byte hashes in base64")
    for i, d in enumerate(field(m, "documents", list, "")):
        if not isinstance(d, dict):
            raise Failure(MANIFEST, f"documents[{i}] must be an object")
        if d.get("erased") is True:
            if "file" in d:
                raise Failure(MANIFEST, f"documents[{i}] is erased and names a file")
        else:
            file_field(d, f"documents[{i}].")
        field(d, "sha256", "hex", f"documents[{i}].")
        field(d, "size", int, f"documents[{i}].")
    erasure = m.get("erasure")
    if erasure is not None:
        if not isinstance(erasure, dict):
            raise Failure(MANIFEST, "erasure must be an object or null")
        file_field(erasure, "erasure.")
        checkpoint = field(erasure, "checkpoint", str, "erasure.")
        if not safe_name(checkpoint) or checkpoint == MANIFEST:
            raise Failure(MANIFEST, f"erasure.checkpoint {show(checkpoint)} is not a member name a bundle can hold")
        field(erasure, "tree_size", int, "erasure.")
        field(erasure, "leaf_index", int, "erasure.")
        field(erasure, "sha256", "hex", "erasure.")
        proof = field(erasure, "inclusion_proof", list, "erasure.")
        if len(proof) > 64:
            raise Failure(MANIFEST, "erasure.inclusion_proof holds more than 64 hashes")
        erasure["proof"] = [b64(p) if isinstance(p, str) else None for p in proof]
        if any(p is None or len(p) != 32 for p in erasure["proof"]):
            raise Failure(MANIFEST, "erasure.inclusion_proof must hold 32-byte hashes in base64")
    return m


def proven_envelope(where, data, index, proof, tree_size, root, schema):
    """An envelope at leaf `index` of the signed tree, decoded (decode_envelope), or Failure."""
    if index >= tree_size:
        raise Failure(where, f"leaf_index {index} is not below the tree size {tree_size}")
    if not verify_inclusion(index, tree_size, leaf_hash(data), proof, root):
        raise Failure(where, f"the inclusion proof of leaf {index} does not lead to the signed root")
    if data[4:8] != FILE_IDENTIFIER:
        raise Failure(where, "not an Envelope: no FlatBuffers file identifier SZEV at bytes 4..8")
    try:
        return decode_envelope(data, schema)
    except Exception as x:  # noqa: BLE001  a damaged buffer may raise anything
        raise Failure(where, f"not a valid Envelope ({describe(x)})")


def verify_erasure(members, erasure, vkey, consumer, schema):
    """The consumer's PartyForgotten is in the log: its envelope, proven in its signed tree."""
    cp_name, where = erasure["checkpoint"], erasure["file"]
    origin, tree_size, root = parse_checkpoint(open_note(members[cp_name], vkey, cp_name), cp_name)
    if origin != vkey[0] and not re.fullmatch(re.escape(vkey[0]) + r"/partition-(0|[1-9][0-9]{0,9})", origin):
        raise Failure(cp_name, f"origin {origin!r} is not a tree of the log {vkey[0]!r}")
    if erasure["tree_size"] != tree_size:
        raise Failure(MANIFEST, f"erasure.tree_size {erasure['tree_size']} differs from its checkpoint's {tree_size}")
    data = members[where]
    if sha256(data).hex() != erasure["sha256"]:
        raise Failure(where, "its SHA-256 differs from the manifest's erasure.sha256")
    index = erasure["leaf_index"]
    stream, _, _, kind, _ = proven_envelope(where, data, index, erasure["proof"], tree_size, root, schema)
    if kind != schema.PARTY_FORGOTTEN:
        raise Failure(where, f"is a {schema.event_names.get(kind)}, not a PartyForgotten")
    if stream != consumer:
        raise Failure(where, f"forgets {stream!r}, not the case's consumer {consumer!r}")
    return origin, index


def verify(path, vkey, schema):
    """Checks the bundle at `path`; returns a summary, or raises Failure."""
    members = read_tar(path)
    if MANIFEST not in members:
        raise Failure(path, f"holds no {MANIFEST}")
    m = parse_manifest(members[MANIFEST])
    case, cp_name = m["case"], m["checkpoint"]

    # Exactly the files the manifest names.
    named = [MANIFEST, cp_name] + [e["file"] for e in m["events"]] + [d["file"] for d in m["documents"] if "file" in d]
    erasure = m.get("erasure")
    if erasure is not None:
        named += [erasure["file"]] + ([erasure["checkpoint"]] if erasure["checkpoint"] != cp_name else [])
    seen = set()
    for name in named:
        if name in seen:
            raise Failure(MANIFEST, f"{name} is named twice")
        seen.add(name)
        if name not in members:
            raise Failure(name, "named by the manifest but not in the bundle")
    for name in members:
        if name not in seen:
            raise Failure(name, "in the bundle but not named by the manifest")

    # The signed checkpoint.
    origin, tree_size, root = parse_checkpoint(open_note(members[cp_name], vkey, cp_name), cp_name)
    if origin != vkey[0] and not re.fullmatch(re.escape(vkey[0]) + r"/partition-(0|[1-9][0-9]{0,9})", origin):
        raise Failure(cp_name, f"origin {origin!r} is not a tree of the log {vkey[0]!r}")
    if m["origin"] != origin:
        raise Failure(MANIFEST, f"origin {m['origin']!r} differs from the checkpoint's {origin!r}")
    if m["tree_size"] != tree_size:
        raise Failure(MANIFEST, f"tree_size {m['tree_size']} differs from the checkpoint's {tree_size}")

    # The events: in the log, of this case, one unbroken hash chain.
    attached = {}  # document SHA-256 hex -> (event file, sequence, size_bytes)
    consumer = None  # the case's consumer, as its CaseFiled names them
    previous, previous_leaf = None, None
    for position, e in enumerate(m["events"], 1):
        where, data = e["file"], members[e["file"]]
        if e["sequence"] != position:
            raise Failure(where, f"manifest sequence {e['sequence']} at place {position} "
                                 f"(events must run 1, 2, 3, … in sequence order)")
        digest = sha256(data)
        if digest.hex() != e["sha256"]:
            raise Failure(where, f"SHA-256 {digest.hex()} differs from the manifest's {e['sha256']}")
        index = e["leaf_index"]
        if previous_leaf is not None and index <= previous_leaf and index < tree_size:
            raise Failure(where, f"leaf_index {index} is not after the previous event's {previous_leaf}")
        stream, sequence, previous_hash, kind, payload = proven_envelope(where, data, index, e["proof"], tree_size,
                                                                         root, schema)
        if stream != case:
            raise Failure(where, f"stream_id {stream!r} is not the case {case}")
        if sequence != position:
            raise Failure(where, f"holds sequence {sequence}, the manifest says {position}")
        if position == 1 and previous_hash:
            raise Failure(where, "sequence 1 has a previous_hash")
        if position > 1 and previous_hash != previous:
            raise Failure(where, f"previous_hash is not the SHA-256 of sequence {position - 1}")
        if position == 1 and kind == schema.CASE_FILED:
            try:
                filer = payload.ConsumerId()
                consumer = filer.decode("utf-8") if filer is not None else None
            except Exception as x:  # noqa: BLE001
                raise Failure(where, f"CaseFiled does not decode ({describe(x)})")
        if kind == schema.DOCUMENT_ATTACHED:
            try:
                doc = byte_vector(payload, "Sha256")
                size = payload.SizeBytes()
            except Exception as x:  # noqa: BLE001
                raise Failure(where, f"DocumentAttached does not decode ({describe(x)})")
            if len(doc) != 32:
                raise Failure(where, f"DocumentAttached sha256 holds {len(doc)} bytes, not 32")
            attached.setdefault(doc.hex(), (where, position, size))
        previous, previous_leaf = digest, index

    # The documents: each the one an event attached, byte for byte.
    present = set()
    erased = 0
    for d in m["documents"]:
        if "file" not in d:
            # Erased: its bytes are gone, its hash and size are what the event attached.
            if d["sha256"] not in attached:
                raise Failure(MANIFEST, f"erased document {d['sha256']} is not attached by any DocumentAttached event")
            event, sequence, size = attached[d["sha256"]]
            if size != d["size"]:
                raise Failure(MANIFEST, f"erased document {d['sha256']}: size {d['size']}, sequence {sequence} attached {size}")
            present.add(d["sha256"])
            erased += 1
            continue
        where, data = d["file"], members[d["file"]]
        if where != "documents/" + d["sha256"]:
            raise Failure(where, f"the name does not match its manifest sha256 {d['sha256']}")
        digest = sha256(data).hex()
        if digest != d["sha256"]:
            raise Failure(where, f"SHA-256 {digest} differs from its name and the manifest")
        if len(data) != d["size"]:
            raise Failure(where, f"{len(data)} bytes, the manifest says {d['size']}")
        if digest not in attached:
            raise Failure(where, "not attached by any DocumentAttached event of the case")
        event, sequence, size = attached[digest]
        if size != len(data):
            raise Failure(where, f"{len(data)} bytes, sequence {sequence} attached {size}")
        present.add(digest)
    for digest, (event, sequence, _) in attached.items():
        if digest not in present:
            raise Failure(event, f"sequence {sequence} attaches document {digest}, not in the bundle")
    # An erased document: the consumer's erasure must be proven, or anyone could mark one erased.
    proven = None
    if erasure is not None:
        proven = verify_erasure(members, erasure, vkey, consumer, schema)
    elif erased:
        raise Failure(MANIFEST, f"{erased} document(s) are marked erased, but no erasure proves the consumer was forgotten")

    return {"case": case, "events": len(m["events"]), "documents": len(m["documents"]) - erased, "erased": erased,
            "erasure": None if proven is None else {"origin": proven[0], "leaf_index": proven[1]},
            "origin": origin, "tree_size": tree_size, "root": base64.b64encode(root).decode("ascii")}


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(
        prog="verify-bundle.py",
        description="Verify a Sazesh dossier bundle (sazesh-bundle/1) against the log's verifier key.")
    p.add_argument("bundle", help="the bundle's tar file")
    p.add_argument("--vkey", required=True, help="the log's verifier key, or a file holding it")
    p.add_argument("--schemas", default=os.path.join(here, "..", "schemas"),
                   help="folder with envelope.fbs and events.fbs (default: %(default)s)")
    p.add_argument("--generated", help="folder with `flatc --python` output to use instead of --schemas")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = p.parse_args(argv)
    try:
        vkey = load_vkey(args.vkey)
        if not os.path.isfile(args.bundle):
            raise SetupError(args.bundle, "no such file")
        result = verify(args.bundle, vkey, load_schema(args.schemas, args.generated))
    except Failure as f:
        if args.json:
            print(json.dumps({"ok": False, "error": {"where": f.where, "what": f.what}}, ensure_ascii=False))
        else:
            print(f"error: {f.where}: {f.what}", file=sys.stderr)
        return f.code
    if args.json:
        print(json.dumps({"ok": True, **result}, ensure_ascii=False))
    else:
        erased = f" ({result['erased']} erased)" if result["erased"] else ""
        if result["erasure"]:
            erased = (f" ({result['erased']} erased; the consumer's PartyForgotten proven at leaf "
                      f"{result['erasure']['leaf_index']} of {result['erasure']['origin']})")
        print(f"ok: case {result['case']}: {result['events']} events, {result['documents']} documents{erased}, "
              f"checkpoint {result['origin']} size {result['tree_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
