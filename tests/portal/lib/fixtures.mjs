// Small files for the consumer to upload, and dates as a consumer would type them.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A 1x1 PNG and a minimal PDF: real files of the types the service stores.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

export async function makeFiles() {
  const dir = await mkdtemp(join(tmpdir(), 'sazesh-portal-files-'));
  const files = { dir, invoice: join(dir, 'invoice.pdf'), photo: join(dir, 'photo.png'), downloads: join(dir, 'downloads') };
  await writeFile(files.invoice, PDF);
  await writeFile(files.photo, PNG);
  return files;
}

const PERSIAN = '۰۱۲۳۴۵۶۷۸۹';
export const persianDigits = (s) => String(s).replace(/[0-9]/g, (d) => PERSIAN[d]);

// The Solar Hijri date `daysAgo` days before today, "۱۴۰۵/۰۸/۲۹", as a consumer types it.
export function jalaliDaysAgo(daysAgo) {
  const when = new Date(Date.now() - daysAgo * 86_400_000);
  const parts = new Intl.DateTimeFormat('en-US-u-ca-persian-nu-latn', {
    timeZone: 'Asia/Tehran', year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(when);
  const part = (type) => parts.find((p) => p.type === type).value;
  return persianDigits(`${part('year')}/${part('month')}/${part('day')}`);
}
