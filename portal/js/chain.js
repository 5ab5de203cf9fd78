// Checking a stream's hash chain in the browser: each event's envelope names the SHA-256 of the
// envelope before it, so hashing the stored bytes (as `events?bytes=true` returns them) and
// comparing proves the history is the one the log holds, without trusting the server's word.
import { bytesToHex } from './casefile.js';

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// One entry per event: its own hash, the hash it names as previous, the hash that previous
// envelope actually has, and whether the link holds. The first event must name none.
export async function verifyChain(lines) {
  if (!crypto.subtle) throw new Error('Web Crypto is only available on a page served over HTTPS or from this machine');
  const links = [];
  let previous = null;
  let expectedSequence = 1;
  for (const line of lines) {
    const record = line.record;
    const hash = await sha256(base64ToBytes(line.envelope));
    const named = bytesToHex(record.previous_hash);
    const actual = previous ? bytesToHex(previous) : '';
    const inOrder = line.sequence === expectedSequence && record.sequence === line.sequence;
    links.push({ sequence: line.sequence, record, hash: bytesToHex(hash), named, actual, ok: inOrder && named === actual });
    previous = hash;
    expectedSequence += 1;
  }
  const broken = links.find((l) => !l.ok);
  return { ok: links.length > 0 && !broken, brokenAt: broken?.sequence ?? null, links };
}
