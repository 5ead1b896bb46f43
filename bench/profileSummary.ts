/**
 * Summarises a V8 CPU profile (a `.cpuprofile` from bench/profileRelay.ts or profileRebuild.ts) by
 * function: self time and total time (the function or anything it called), per item when a count is
 * given, and self time per file. Not part of `npm run bench`:
 *   npx tsx bench/profileSummary.ts <file.cpuprofile> [items=1] [rows=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, itemsArgument, rowsArgument] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profileSummary.ts <file.cpuprofile> [items] [rows]');
const items = Number(itemsArgument ?? 1);
const rows = Number(rowsArgument ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

const shortUrl = (url: string): string => {
  const nodeModules = url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return url.slice(nodeModules + 'node_modules/'.length);
  const marks = ['/ledger/', '/projections/', '/bench/', '/gateway/'];
  for (const mark of marks) {
    const at = url.lastIndexOf(mark);
    if (at >= 0) return url.slice(at + 1);
  }
  return url === '' ? '(native)' : url.replace(/^node:/, 'node:');
};
const keyOf = (node: ProfileNode): string => {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  return url === ''
    ? functionName || '(anonymous)'
    : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}:${columnNumber + 1}`;
};
const fileOf = (node: ProfileNode): string => {
  const url = node.callFrame.url;
  if (url === '') return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native)';
  const short = shortUrl(url);
  const nodeModules = url.lastIndexOf('node_modules/');
  // A package, not its every file: `amqplib/lib/channel.js` counts as `amqplib`.
  if (nodeModules >= 0) return short.startsWith('@') ? short.split('/').slice(0, 2).join('/') : (short.split('/')[0] ?? short);
  return short;
};

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const perFile = new Map<string, number>();
let totalUs = 0;
let idleUs = 0;
profile.samples.forEach((sample, i) => {
  // Each delta is the time before its sample; the sample stands for the interval that follows it.
  const us = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(sample);
  if (node === undefined) return;
  if (node.callFrame.functionName === '(idle)') {
    idleUs += us;
    return;
  }
  totalUs += us;
  const key = keyOf(node);
  self.set(key, (self.get(key) ?? 0) + us);
  const owner = fileOf(node);
  perFile.set(owner, (perFile.get(owner) ?? 0) + us);
  const seen = new Set<string>();
  for (let id: number | undefined = sample; id !== undefined; id = parent.get(id)) {
    const ancestor = byId.get(id);
    if (ancestor === undefined) break;
    const ancestorKey = keyOf(ancestor);
    if (seen.has(ancestorKey)) continue;
    seen.add(ancestorKey);
    inclusive.set(ancestorKey, (inclusive.get(ancestorKey) ?? 0) + us);
  }
});

const format = (us: number): string =>
  `${(us / 1000).toFixed(1).padStart(8)} ms ${(us / items).toFixed(2).padStart(7)} µs/item ${((100 * us) / totalUs).toFixed(1).padStart(5)} %`;
const top = (title: string, table: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [key, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${format(us)}  ${key}`);
};
console.log(`${file}: busy ${format(totalUs)} (idle ${(idleUs / 1000).toFixed(1)} ms), ${items} items`);
top('self time by function', self);
top('total time by function (itself and what it called)', inclusive);
top('self time by file or package', perFile);
