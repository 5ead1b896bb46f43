import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark figure, printed as `<name>: <value> <unit> (<ratio> × <baseline>)`. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in the same run, and the target ratio (or bound) if there is one. */
  readonly baseline?: { readonly name: string; readonly value: number; readonly unit: string };
  readonly target?: string;
  readonly pass?: boolean;
}

const figures: Figure[] = [];

const format = (n: number): string =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : Number(n.toPrecision(3)).toString();

export const report = (figure: Figure): void => {
  figures.push(figure);
  const ratio =
    figure.baseline === undefined ? '' : ` (${(figure.value / figure.baseline.value).toFixed(2)} × ${figure.baseline.name})`;
  const target = figure.target === undefined ? '' : `  [target ${figure.target}: ${figure.pass === true ? 'met' : 'NOT met'}]`;
  console.log(`${figure.name}: ${format(figure.value)} ${figure.unit}${ratio}${target}`);
};

/** A Markdown table of the figures (for the figures table in docs/ARCHITECTURE.md), one row per figure. */
export const figuresTable = (rows: readonly Figure[], measuredAt: string): string => {
  const cell = (text: string): string => text.replaceAll('|', '\\|');
  const lines = [
    `Measured ${measuredAt} by \`npm run bench\` (node ${process.version}, ${availableParallelism()} cores). Ratios are to the baseline measured in the same run.`,
    '',
    '| figure | value | same-run baseline | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((f) => {
      const baseline = f.baseline === undefined ? '' : `${f.baseline.name}: ${format(f.baseline.value)} ${f.baseline.unit}`;
      const ratio = f.baseline === undefined ? '' : `${(f.value / f.baseline.value).toFixed(2)} ×`;
      const target = f.target === undefined ? '' : `${f.target}: ${f.pass === true ? 'met' : '**not met**'}`;
      return `| ${cell(f.name)} | ${format(f.value)} ${cell(f.unit)} | ${cell(baseline)} | ${ratio} | ${cell(target)} |`;
    }),
  ];
  return `${lines.join('\n')}\n`;
};

/** Writes bench/results/latest.json (every figure, for scripts) and latest.md (the same as a table). */
export const writeResults = (): string => {
  const path = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
  mkdirSync(dirname(path), { recursive: true });
  const measuredAt = new Date().toISOString();
  const rows = figures.map((f) => ({
    ...f,
    ratio: f.baseline === undefined ? undefined : f.value / f.baseline.value,
  }));
  writeFileSync(path, `${JSON.stringify({ measuredAt, node: process.version, figures: rows }, null, 2)}\n`);
  writeFileSync(path.replace(/\.json$/, '.md'), figuresTable(figures, measuredAt));
  return path;
};

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
};
