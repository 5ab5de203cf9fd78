#!/usr/bin/env python3
"""Tests of tools/verify-bundle.py, the standalone dossier bundle verifier.

Each test builds its bundle here, from nothing the project ships but its schemas: Envelopes
written with the `flatc --python` builder code, a 37-leaf log (the case's events among random
filler records) whose Merkle root and audit paths come from the recursive RFC 6962 definition
(independent of the verifier's iterative check), a checkpoint signed with a fresh Ed25519 key,
and the tar. The verifier runs as a subprocess; a good bundle must pass and each tampered one
must fail with exit 1 and an error naming the right file.

Run: python3 tests/verify_bundle/test_verify_bundle.py   (needs flatc, cryptography, flatbuffers)
"""

import base64
import copy
import hashlib
import importlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

try:
    import flatbuffers
except ImportError:  # Debian's python3-flatbuffers, from another interpreter (see the verifier)
    sys.path.append("/usr/lib/python3/dist-packages")
    import flatbuffers
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VERIFIER = os.path.join(ROOT, "tools", "verify-bundle.py")
SCHEMAS = os.path.join(ROOT, "schemas")

CASE = "C-7K2Q9XD3MA"
ORIGIN = "sazesh.local/log"
TREE_SIZE = 37
PLACES = [2, 9, 16, 17, 31, 36]  # the log positions of the case's events: 36 is the last leaf
DOCUMENT = b"%PDF-1.4\n% an invoice for order KL-88213, 48,500,000 rials\n" + bytes(range(256))
DOC_HEX = hashlib.sha256(DOCUMENT).hexdigest()
CONSUMER = "U-3F9K2M7Q"  # the case's consumer, as its CaseFiled names them
ERASURE_PLACE = 20     # where the consumer's PartyForgotten lies in the log, once forgotten


def sha256(data):
    return hashlib.sha256(data).digest()


def b64(data):
    return base64.b64encode(data).decode("ascii")


# ---- RFC 6962 §2.1, as defined there: recursively -----------------------------------------------

def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(leaves):
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = split(len(leaves))
    return sha256(b"\x01" + tree_hash(leaves[:k]) + tree_hash(leaves[k:]))


def audit_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [tree_hash(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [tree_hash(leaves[:k])]


# ---- C2SP keys and signed notes -----------------------------------------------------------------

def public_bytes(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name, key):
    return sha256(name.encode() + b"\n\x01" + public_bytes(key))[:4]


def vkey_text(name, key):
    encoded = b64(b"\x01" + public_bytes(key))
    return f"{name}+{key_id(name, key).hex()}+{encoded}"


def signature_line(name, key, text):
    return f"\u2014 {name} {b64(key_id(name, key) + key.sign(text.encode()))}\n"


class Bundle:
    """The members of a bundle (the manifest as a dict), to tamper with and write out."""

    def __init__(self, manifest, members):
        self.manifest, self.members = manifest, members

    def copy(self):
        return Bundle(copy.deepcopy(self.manifest), dict(self.members))

    def event(self, sequence):
        return self.manifest["events"][sequence - 1]

    def write(self, path, extra=()):
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            files = [("manifest.json", json.dumps(self.manifest, indent=1).encode())]
            for name, data in [*files, *self.members.items(), *extra]:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 1796205600, 0o644
                tar.addfile(info, io.BytesIO(data))
        return path


def flip(data, at):
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


class VerifyBundleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="verify-bundle-test-")
        gen = os.path.join(cls.tmp, "generated")
        subprocess.run(["flatc", "--python", "-o", gen, os.path.join(SCHEMAS, "envelope.fbs"),
                        os.path.join(SCHEMAS, "events.fbs")], check=True)
        cls.generated = gen
        sys.path.insert(0, gen)
        cls.S = {name: importlib.import_module(f"sazesh.schema.{name}") for name in (
            "Envelope", "Event", "Role", "Category", "DocumentKind", "RemedyKind", "Route", "CaseFiled",
            "DocumentAttached", "CaseAccepted", "ForwardedToBusiness", "MessagePosted",
            "BusinessResponded", "PartyForgotten")}
        cls.key = Ed25519PrivateKey.generate()
        cls.witness = Ed25519PrivateKey.generate()
        cls.vkey = vkey_text(ORIGIN, cls.key)
        rng = random.Random(6962)
        cls.filler = [rng.randbytes(rng.randrange(40, 200)) for _ in range(TREE_SIZE)]
        cls.specs = cls.event_specs()
        cls.good = cls.make(cls.chain(cls.specs))
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.generated)
        shutil.rmtree(cls.tmp)

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def event_specs(cls):
        """(actor role, payload type, function building the payload) of each event, in order."""
        S = {k: getattr(m, k) for k, m in cls.S.items() if k in (
            "Event", "Role", "Category", "DocumentKind", "RemedyKind", "Route")}
        m = cls.S

        def filed(b):
            strings = [b.CreateString(s)
                       for s in (CONSUMER, "1001", "KL-88213", "مخلوط‌کن شکسته رسید")]
            docs = b.CreateByteVector(bytes([S["DocumentKind"].invoice, S["DocumentKind"].photo]))
            f = m["CaseFiled"]
            f.Start(b)
            f.AddConsumerId(b, strings[0])
            f.AddBusinessId(b, strings[1])
            f.AddOrderReference(b, strings[2])
            f.AddPurchaseDateDays(b, 20762)
            f.AddAmountRials(b, 48_500_000)
            f.AddCategory(b, S["Category"].defective)
            f.AddDescription(b, strings[3])
            f.AddRequestedRemedy(b, S["RemedyKind"].replacement)
            f.AddRequiredDocuments(b, docs)
            return f.End(b)

        def attached(b):
            digest, name = b.CreateByteVector(sha256(DOCUMENT)), b.CreateString("invoice.pdf")
            d = m["DocumentAttached"]
            d.Start(b)
            d.AddKind(b, S["DocumentKind"].invoice)
            d.AddSha256(b, digest)
            d.AddFileName(b, name)
            d.AddSizeBytes(b, len(DOCUMENT))
            return d.End(b)

        def accepted(b):
            note = b.CreateString("documents complete")
            a = m["CaseAccepted"]
            a.Start(b)
            a.AddCategory(b, S["Category"].defective)
            a.AddRoute(b, S["Route"].negotiation)
            a.AddNote(b, note)
            return a.End(b)

        def forwarded(b):
            business = b.CreateString("1001")
            f = m["ForwardedToBusiness"]
            f.Start(b)
            f.AddBusinessId(b, business)
            f.AddResponseDueMs(b, 1_796_464_800_000)
            return f.End(b)

        def message(b):
            text = b.CreateString("any news?")
            p = m["MessagePosted"]
            p.Start(b)
            p.AddText(b, text)
            return p.End(b)

        def responded(b):
            text = b.CreateString("کالا جایگزین می‌شود")
            r = m["BusinessResponded"]
            r.Start(b)
            r.AddText(b, text)
            r.AddTimely(b, True)
            return r.End(b)

        E, R = S["Event"], S["Role"]
        return [(R.consumer, E.CaseFiled, filed), (R.consumer, E.DocumentAttached, attached),
                (R.operator, E.CaseAccepted, accepted), (R.system, E.ForwardedToBusiness, forwarded),
                (R.consumer, E.MessagePosted, message), (R.business, E.BusinessResponded, responded)]

    @classmethod
    def envelope(cls, sequence, previous, spec, stream=CASE):
        role, kind, build_payload = spec
        env = cls.S["Envelope"]
        b = flatbuffers.Builder(512)
        payload = build_payload(b)
        event_id, stream_id = b.CreateString(sha256(b"%d" % sequence).hex()), b.CreateString(stream)
        actor, command = b.CreateString(f"actor-{role}"), b.CreateString(f"cmd-{sequence}")
        prev = b.CreateByteVector(previous)
        env.Start(b)
        env.AddEventId(b, event_id)
        env.AddStreamId(b, stream_id)
        env.AddSequence(b, sequence)
        env.AddActorRole(b, role)
        env.AddActorId(b, actor)
        env.AddTimeMs(b, 1_796_205_600_000 + sequence * 60_000)
        env.AddCommandId(b, command)
        env.AddSchemaVersion(b, 1)
        env.AddPreviousHash(b, prev)
        env.AddPayloadType(b, kind)
        env.AddPayload(b, payload)
        b.Finish(env.End(b), file_identifier=b"SZEV")
        return bytes(b.Output())

    @classmethod
    def chain(cls, specs, streams=None, break_at=None):
        """The envelopes of `specs`, hash-chained (with a wrong previous_hash at `break_at`)."""
        out = []
        for i, spec in enumerate(specs):
            previous = sha256(out[-1]) if out else b""
            if i + 1 == break_at:
                previous = bytes(32)
            out.append(cls.envelope(i + 1, previous, spec, (streams or {}).get(i + 1, CASE)))
        return out

    @classmethod
    def make(cls, envelopes, places=PLACES, origin=ORIGIN, others=None):
        """A bundle of `envelopes` at log positions `places` in a log of filler records (and
        `others`, {place: record}, elsewhere in it), whose checkpoint names the tree `origin`
        (signed by the key named ORIGIN)."""
        log = list(cls.filler)
        for place, env in (others or {}).items():
            log[place] = env
        for place, env in zip(places, envelopes):
            log[place] = env
        text = f"{origin}\n{TREE_SIZE}\n{b64(tree_hash(log))}\n"
        note = (text + "\n" + signature_line("witness.example/w1", cls.witness, text)
                + signature_line(ORIGIN, cls.key, text))
        members, events = {}, []
        for i, (place, env) in enumerate(zip(places, envelopes), 1):
            name = f"events/{i:06d}.szev"
            members[name] = env
            events.append({"file": name, "sequence": i, "leaf_index": place,
                           "sha256": sha256(env).hex(),
                           "inclusion_proof": [b64(h) for h in audit_path(place, log)]})
        members[f"documents/{DOC_HEX}"] = DOCUMENT
        members["checkpoint.txt"] = note.encode()
        manifest = {"format": "sazesh-bundle/1", "case": CASE, "origin": origin,
                    "checkpoint": "checkpoint.txt", "tree_size": TREE_SIZE, "events": events,
                    "documents": [{"file": f"documents/{DOC_HEX}", "sha256": DOC_HEX,
                                   "size": len(DOCUMENT)}],
                    "built_at": "2026-12-02T10:00:00Z"}
        bundle = Bundle(manifest, members)
        bundle.log = log
        return bundle

    @classmethod
    def make_erased(cls, stream=CONSUMER, forgotten=True, place=ERASURE_PLACE):
        """The bundle once the consumer was forgotten: the document marked erased, and the
        erasure proven by an event of `stream` (a PartyForgotten, or with `forgotten` False a
        message) at log position `place`, in the same tree."""
        m, E, R = cls.S, cls.S["Event"].Event, cls.S["Role"].Role

        def forget(b):
            reason = b.CreateString("the person asked")
            f = m["PartyForgotten"]
            f.Start(b)
            f.AddReason(b, reason)
            return f.End(b)

        spec = (R.operator, E.PartyForgotten, forget) if forgotten else cls.specs[4]  # the message
        erasure = cls.envelope(3, bytes(32), spec, stream)
        bundle = cls.make(cls.chain(cls.specs), others={place: erasure})
        del bundle.members[f"documents/{DOC_HEX}"]
        bundle.manifest["documents"] = [{"sha256": DOC_HEX, "size": len(DOCUMENT), "erased": True}]
        bundle.members["erasure/forgotten.szev"] = erasure
        bundle.members["erasure/checkpoint.txt"] = bundle.members["checkpoint.txt"]
        bundle.manifest["erasure"] = {"file": "erasure/forgotten.szev", "checkpoint": "erasure/checkpoint.txt",
                                      "tree_size": TREE_SIZE, "leaf_index": place, "sha256": sha256(erasure).hex(),
                                      "inclusion_proof": [b64(h) for h in audit_path(place, bundle.log)]}
        return bundle

    # -- running ---------------------------------------------------------------------------------

    def path(self):
        type(self).count += 1
        return os.path.join(self.tmp, f"bundle-{self.count}.tar")

    def run_verifier(self, bundle, *args, vkey=None):
        if isinstance(bundle, Bundle):
            bundle = bundle.write(self.path())
        run = subprocess.run([sys.executable, VERIFIER, bundle, "--vkey", vkey or self.vkey, *args],
                             capture_output=True, text=True, timeout=60)
        return run.returncode, run.stdout, run.stderr

    def assert_fails(self, bundle, where, what="", vkey=None):
        code, out, err = self.run_verifier(bundle, vkey=vkey)
        self.assertEqual(code, 1, f"stdout: {out}\nstderr: {err}")
        self.assertTrue(err.startswith(f"error: {where}: "), err)
        self.assertIn(what, err)
        self.assertEqual(out, "")

    # -- the good bundle -------------------------------------------------------------------------

    def test_good_bundle_passes(self):
        code, out, err = self.run_verifier(self.good)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, f"ok: case {CASE}: 6 events, 1 documents, checkpoint {ORIGIN} size 37\n")

    def test_json_output(self):
        code, out, _ = self.run_verifier(self.good, "--json")
        self.assertEqual(code, 0)
        result = json.loads(out)
        self.assertEqual((result["ok"], result["case"], result["events"], result["tree_size"]),
                         (True, CASE, 6, TREE_SIZE))
        bad = self.good.copy()
        bad.manifest["format"] = "sazesh-bundle/2"
        code, out, _ = self.run_verifier(bad, "--json")
        self.assertEqual(code, 1)
        result = json.loads(out)
        self.assertEqual((result["ok"], result["error"]["where"]), (False, "manifest.json"))

    def test_vkey_from_file_and_generated_code(self):
        vkey_file = os.path.join(self.tmp, "log.vkey")
        with open(vkey_file, "w") as f:
            f.write(self.vkey + "\n")
        code, out, err = self.run_verifier(self.good, "--generated", self.generated, vkey=vkey_file)
        self.assertEqual((code, err), (0, ""), out)

    def test_bad_command_line(self):
        self.assertEqual(self.run_verifier(self.good, vkey="not-a-key")[0], 2)
        self.assertEqual(self.run_verifier(self.good, "--no-such-option")[0], 2)
        self.assertEqual(self.run_verifier(os.path.join(self.tmp, "absent.tar"))[0], 2)

    # -- tampering -------------------------------------------------------------------------------

    def test_flipped_byte_in_event(self):
        bad = self.good.copy()
        name = "events/000003.szev"
        bad.members[name] = flip(bad.members[name], 40)
        self.assert_fails(bad, name, "SHA-256")
        bad.event(3)["sha256"] = sha256(bad.members[name]).hex()  # the manifest lies along
        self.assert_fails(bad, name, "inclusion proof")

    def test_flipped_byte_in_document(self):
        bad = self.good.copy()
        name = f"documents/{DOC_HEX}"
        bad.members[name] = flip(bad.members[name], 5)
        self.assert_fails(bad, name, "SHA-256")

    def test_flipped_byte_in_checkpoint_root(self):
        bad = self.good.copy()
        lines = bad.members["checkpoint.txt"].decode().split("\n")
        lines[2] = b64(flip(base64.b64decode(lines[2]), 0))
        bad.members["checkpoint.txt"] = "\n".join(lines).encode()
        self.assert_fails(bad, "checkpoint.txt", "does not verify")

    def test_flipped_byte_in_signature(self):
        bad = self.good.copy()
        note = bad.members["checkpoint.txt"].decode()
        head, line = note[:-1].rsplit("\n", 1)
        dash_name, sig = line.rsplit(" ", 1)
        sig = b64(flip(base64.b64decode(sig), 20))
        bad.members["checkpoint.txt"] = f"{head}\n{dash_name} {sig}\n".encode()
        self.assert_fails(bad, "checkpoint.txt", "does not verify")

    def test_wrong_vkey(self):
        other = vkey_text(ORIGIN, Ed25519PrivateKey.generate())
        self.assert_fails(self.good, "checkpoint.txt", "no signature", vkey=other)
        self.assert_fails(self.good, "checkpoint.txt", "no signature",
                          vkey=vkey_text("witness.example/w2", self.witness))

    def test_origin_of_a_partition(self):
        # A log on Kafka: one tree per partition, named by the key's name and the partition.
        code, out, err = self.run_verifier(self.make(self.chain(self.specs), origin=f"{ORIGIN}/partition-2"))
        self.assertEqual((code, err), (0, ""), out)
        for foreign in ("another.example/log", f"{ORIGIN}/partition-x", f"{ORIGIN}/partition-01", f"{ORIGIN}x"):
            self.assert_fails(self.make(self.chain(self.specs), origin=foreign), "checkpoint.txt", "is not a tree of the log")

    def test_removed_event(self):
        bad = self.good.copy()
        del bad.manifest["events"][2]
        del bad.members["events/000003.szev"]
        self.assert_fails(bad, "events/000004.szev", "sequence")
        for i, e in enumerate(bad.manifest["events"], 1):  # renumbered: the chain still breaks
            e["sequence"] = i
        self.assert_fails(bad, "events/000004.szev", "sequence")

    def test_swapped_events(self):
        bad = self.good.copy()
        events = bad.manifest["events"]
        events[1], events[2] = events[2], events[1]
        self.assert_fails(bad, "events/000003.szev", "sequence")

    def test_extra_member(self):
        path = self.good.write(self.path(), extra=[("notes.txt", b"hello\n")])
        self.assert_fails(path, "notes.txt", "not named by the manifest")

    def test_missing_document(self):
        bad = self.good.copy()
        del bad.members[f"documents/{DOC_HEX}"]
        self.assert_fails(bad, f"documents/{DOC_HEX}", "not in the bundle")
        bad.manifest["documents"] = []
        self.assert_fails(bad, "events/000002.szev", "sequence 2 attaches document")

    def test_document_not_attached(self):
        bad = self.good.copy()
        stray = b"a stray document"
        name = "documents/" + sha256(stray).hex()
        bad.members[name] = stray
        bad.manifest["documents"].append({"file": name, "sha256": sha256(stray).hex(), "size": len(stray)})
        self.assert_fails(bad, name, "not attached")

    def test_changed_proof_hash(self):
        bad = self.good.copy()
        proof = bad.event(4)["inclusion_proof"]
        proof[1] = b64(flip(base64.b64decode(proof[1]), 31))
        self.assert_fails(bad, "events/000004.szev", "inclusion proof")

    def test_changed_leaf_index(self):
        bad = self.good.copy()
        bad.event(1)["leaf_index"] += 1
        self.assert_fails(bad, "events/000001.szev", "inclusion proof")
        bad.event(1)["leaf_index"] = TREE_SIZE
        self.assert_fails(bad, "events/000001.szev", "not below the tree size")

    def test_tree_size_mismatch(self):
        bad = self.good.copy()
        bad.manifest["tree_size"] = TREE_SIZE + 1
        self.assert_fails(bad, "manifest.json", "tree_size")

    def test_unknown_format(self):
        bad = self.good.copy()
        bad.manifest["format"] = "sazesh-bundle/2"
        self.assert_fails(bad, "manifest.json", "unknown format")
        bad.manifest["format"] = "sazesh-bundle/1"
        bad.manifest["tree_size"] = True  # a bool is not a number here
        self.assert_fails(bad, "manifest.json", "tree_size")

    def test_not_a_tar(self):
        path = self.path()
        with open(path, "wb") as f:
            f.write(b"this is not a tar file\n" * 40)
        self.assert_fails(path, path, "tar")

    def test_tar_with_parent_path(self):
        path = self.good.write(self.path(), extra=[("../x", b"escape\n")])
        self.assert_fails(path, "../x", "unsafe")

    # -- events that are in the log but not a sound history of this case ------------------------

    # -- erased documents ------------------------------------------------------------------------

    def test_erased_document_with_its_erasure_proven_passes(self):
        code, out, err = self.run_verifier(self.make_erased())
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, f"ok: case {CASE}: 6 events, 0 documents (1 erased; the consumer's PartyForgotten "
                              f"proven at leaf {ERASURE_PLACE} of {ORIGIN}), checkpoint {ORIGIN} size 37\n")

    def test_erased_document_without_an_erasure(self):
        bad = self.make_erased()
        bad.manifest["erasure"] = None
        del bad.members["erasure/forgotten.szev"], bad.members["erasure/checkpoint.txt"]
        self.assert_fails(bad, "manifest.json", "marked erased")

    def test_erasure_of_someone_else(self):
        self.assert_fails(self.make_erased(stream="U-0THERPERSN"), "erasure/forgotten.szev", "not the case's consumer")

    def test_erasure_that_is_not_a_party_forgotten(self):
        self.assert_fails(self.make_erased(forgotten=False), "erasure/forgotten.szev", "not a PartyForgotten")

    def test_erasure_not_in_the_tree(self):
        bad = self.make_erased()
        bad.members["erasure/forgotten.szev"] = flip(bad.members["erasure/forgotten.szev"], 60)
        self.assert_fails(bad, "erasure/forgotten.szev", "SHA-256")
        bad.manifest["erasure"]["sha256"] = sha256(bad.members["erasure/forgotten.szev"]).hex()
        self.assert_fails(bad, "erasure/forgotten.szev", "inclusion proof")
        bad = self.make_erased()
        bad.manifest["erasure"]["leaf_index"] = ERASURE_PLACE + 1
        self.assert_fails(bad, "erasure/forgotten.szev", "inclusion proof")

    def test_erasure_checkpoint_by_another_key(self):
        bad = self.make_erased()
        other = Ed25519PrivateKey.generate()
        text = bad.members["checkpoint.txt"].decode().split("\n\n")[0] + "\n"
        bad.members["erasure/checkpoint.txt"] = (text + "\n" + signature_line(ORIGIN, other, text)).encode()
        self.assert_fails(bad, "erasure/checkpoint.txt", "")

    def test_event_of_another_case(self):
        self.assert_fails(self.make(self.chain(self.specs, streams={3: "C-0THERCASE1"})),
                          "events/000003.szev", "stream_id")

    def test_broken_hash_chain(self):
        self.assert_fails(self.make(self.chain(self.specs, break_at=4)),
                          "events/000004.szev", "previous_hash")

    def test_undecodable_envelopes(self):
        envelopes = self.chain(self.specs)
        for damaged in (b"\x10\x00\x00\x00SZEV" + b"\xff" * 40, envelopes[4][:-12],
                        b"\x08\x00\x00\x00SZEV\x00\x00\x00\x80"):
            with self.subTest(damaged=damaged[:12]):
                bad = self.make(envelopes[:4] + [damaged] + envelopes[5:])
                self.assert_fails(bad, "events/000005.szev", "not a valid Envelope")
        bad = self.make(envelopes[:4] + [b"\x10\x00\x00\x00XXXX" + bytes(40)] + envelopes[5:])
        self.assert_fails(bad, "events/000005.szev", "SZEV")

    def test_unsafe_tar_members(self):
        def member(name, kind=tarfile.REGTYPE):
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            return info

        for where, info in [("/etc/x", member("/etc/x")), ("events/./x", member("events/./x")),
                            ("link", member("link", tarfile.SYMTYPE)),
                            ("events", member("events", tarfile.DIRTYPE)),
                            ("checkpoint.txt", member("checkpoint.txt"))]:  # a second one
            with self.subTest(where=where):
                path = self.good.write(self.path())
                with tarfile.open(path, "a") as tar:
                    tar.addfile(info, io.BytesIO(b""))
                self.assert_fails(path, where)


if __name__ == "__main__":
    unittest.main()
