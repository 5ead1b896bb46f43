import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// Issue #10's "done means", kept true: folders are components, every arrow points down (gateway →
// projections → ledger; consumers → projections → ledger; the ledger on nothing), no circle among the
// source files (type-only imports included: a circle of types is still a circle), and no source file
// over 400 lines without its reason written at its top. The lint rule in eslint.config.js keeps each
// component entered through its public surface; this reads the whole graph, tests and helpers included.

const root = resolve(import.meta.dirname, '..');

const components = ['ledger', 'projections', 'gateway', 'consumers'] as const;
type Component = (typeof components)[number];

/** What each component may import besides itself (docs/ARCHITECTURE.md, "Overview"). */
const mayImport: Record<Component, readonly Component[]> = {
  ledger: [],
  projections: ['ledger'],
  consumers: ['projections', 'ledger'],
  gateway: ['projections', 'ledger'],
};

const linesMax = 400;
const oversizeReason = 'Over 400 lines on purpose';
/** How far down a file its reason for being long may start. */
const reasonWithinLines = 5;

/** Repository-relative path with forward slashes: the way the failure messages name files. */
const repoPath = (absolute: string): string => relative(root, absolute).split(sep).join('/');

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });

/** The file a relative specifier names (`./x.js` is `./x.ts` in the sources), or undefined. */
const resolveRelative = (from: string, specifier: string): string | undefined => {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
};

interface SourceGraph {
  /** File → the files it imports (static, type-only, re-exports and dynamic `import('…')`). */
  readonly edges: ReadonlyMap<string, readonly string[]>;
  /** Relative specifiers that name no file (a typo the graph would otherwise not see). */
  readonly unresolved: readonly string[];
  readonly lines: ReadonlyMap<string, { count: number; head: readonly string[] }>;
}

const readGraph = (): SourceGraph => {
  const edges = new Map<string, string[]>();
  const unresolved: string[] = [];
  const lines = new Map<string, { count: number; head: readonly string[] }>();
  for (const file of components.flatMap((component) => sourceFiles(join(root, component)))) {
    const text = readFileSync(file, 'utf8');
    const all = text.split('\n');
    lines.set(repoPath(file), {
      count: text.endsWith('\n') ? all.length - 1 : all.length,
      head: all.slice(0, reasonWithinLines),
    });
    const targets: string[] = [];
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!specifier.startsWith('.')) continue; // a package or node: builtin
      const target = resolveRelative(file, specifier);
      if (target === undefined) unresolved.push(`${repoPath(file)}: '${specifier}'`);
      else targets.push(repoPath(target));
    }
    edges.set(repoPath(file), [...new Set(targets)]);
  }
  return { edges, unresolved, lines };
};

const componentOf = (path: string): string => path.split('/')[0] ?? path;

/** Every import that crosses components against the arrows, as `from → to`. */
const upwardArrows = (edges: SourceGraph['edges']): string[] =>
  [...edges].flatMap(([from, targets]) => {
    const source = componentOf(from) as Component;
    const allowed = mayImport[source] ?? [];
    return targets
      .filter((to) => componentOf(to) !== source && !(allowed as readonly string[]).includes(componentOf(to)))
      .map((to) => `${from} → ${to} (${source} may import ${allowed.length === 0 ? 'no other component' : allowed.join(', ')})`);
  });

/** Every circle among the files, each as one path through it that ends where it starts. */
const importCycles = (edges: SourceGraph['edges']): string[] => {
  // Tarjan's strongly connected components; a component of two or more files (or a file importing
  // itself) holds a circle, shown as the shortest way back to its first file.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const to of edges.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file) ?? 0, index.get(to) ?? 0));
    }
    if (low.get(file) !== index.get(file)) return;
    const members: string[] = [];
    for (;;) {
      const member = stack.pop() ?? file;
      onStack.delete(member);
      members.push(member);
      if (member === file) break;
    }
    if (members.length > 1 || (edges.get(file) ?? []).includes(file)) circles.push(members.sort());
  };
  for (const file of [...edges.keys()].sort()) if (!index.has(file)) visit(file);
  return circles.map((members) => {
    const start = members[0] ?? '';
    const inside = new Set(members);
    // Breadth first from the start back to it, within the component.
    const cameFrom = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const file = queue.shift() ?? start;
      for (const to of edges.get(file) ?? []) {
        if (!inside.has(to)) continue;
        if (to === start) {
          cameFrom.set(`${start}#end`, file);
          found = true;
          break;
        }
        if (!cameFrom.has(to)) {
          cameFrom.set(to, file);
          queue.push(to);
        }
      }
    }
    const path = [start];
    for (let at = cameFrom.get(`${start}#end`); at !== undefined && at !== start; at = cameFrom.get(at)) path.unshift(at);
    path.unshift(start);
    return `${path.join(' → ')}${members.length > path.length - 1 ? ` (one circle of ${members.length} files: ${members.join(', ')})` : ''}`;
  });
};

/** Source files (not specs) over the line limit whose first lines do not say why. */
const oversizedFiles = (lines: SourceGraph['lines']): string[] =>
  [...lines]
    .filter(([path, { count, head }]) => {
      if (path.endsWith('.spec.ts') || count <= linesMax) return false;
      const comment = /^\s*(\/\/|\/\*+|\*)\s*/;
      return !head
        .slice(0, reasonWithinLines)
        .some((line) => comment.test(line) && line.replace(comment, '').startsWith(oversizeReason));
    })
    .map(([path, { count }]) => `${path} (${count} lines)`);

describe('the import graph', () => {
  const graph = readGraph();

  it('reads the sources of every component, and every relative import names a file', () => {
    for (const component of components)
      expect(
        [...graph.edges.keys()].some((path) => path.startsWith(`${component}/src/`)),
        component,
      ).toBe(true);
    expect(graph.unresolved, 'relative imports that name no file').toEqual([]);
  });

  it('has every arrow pointing down: the ledger on nothing, projections on the ledger, gateway and consumers on both', () => {
    expect(upwardArrows(graph.edges), 'imports against the arrows').toEqual([]);
  });

  it('has no circle among the files, type-only imports included', () => {
    expect(importCycles(graph.edges), 'import circles').toEqual([]);
  });

  it(`has no source file over ${linesMax} lines without "${oversizeReason}: …" at its top`, () => {
    expect(oversizedFiles(graph.lines), 'files over the limit without a reason').toEqual([]);
  });
});

describe('the import graph checks themselves', () => {
  const graphOf = (edges: Record<string, string[]>): ReadonlyMap<string, readonly string[]> => new Map(Object.entries(edges));

  it('name an arrow that points up, or sideways between gateway and consumers', () => {
    const edges = graphOf({
      'ledger/src/a.ts': ['projections/src/b.ts'],
      'projections/src/b.ts': ['ledger/src/a.ts'],
      'gateway/src/c.ts': ['consumers/src/d.ts', 'projections/src/b.ts'],
      'consumers/src/d.ts': ['gateway/src/c.ts'],
    });
    expect(upwardArrows(edges)).toEqual([
      'ledger/src/a.ts → projections/src/b.ts (ledger may import no other component)',
      'gateway/src/c.ts → consumers/src/d.ts (gateway may import projections, ledger)',
      'consumers/src/d.ts → gateway/src/c.ts (consumers may import projections, ledger)',
    ]);
  });

  it('show each circle as the path around it, and leave a graph without one alone', () => {
    const edges = graphOf({
      'p/a.ts': ['p/b.ts'],
      'p/b.ts': ['p/c.ts', 'p/d.ts'],
      'p/c.ts': ['p/a.ts'],
      'p/d.ts': [],
      'p/self.ts': ['p/self.ts'],
    });
    expect(importCycles(edges)).toEqual(['p/a.ts → p/b.ts → p/c.ts → p/a.ts', 'p/self.ts → p/self.ts']);
    expect(importCycles(graphOf({ 'p/a.ts': ['p/b.ts'], 'p/b.ts': ['p/c.ts'], 'p/c.ts': [] }))).toEqual([]);
  });

  it('let a long file pass only with its reason at the top, and never count specs', () => {
    const lines = new Map([
      ['ledger/src/long.ts', { count: 401, head: ['import x from "y";'] }],
      ['ledger/src/reasoned.ts', { count: 900, head: [`// ${oversizeReason}: one class, one port.`] }],
      ['ledger/src/reasonTooLow.ts', { count: 401, head: ['import a from "a";', '', '', '', '', `// ${oversizeReason}`] }],
      ['ledger/src/short.ts', { count: 400, head: [] }],
      ['ledger/src/long.int.spec.ts', { count: 900, head: [] }],
    ]);
    expect(oversizedFiles(lines)).toEqual(['ledger/src/long.ts (401 lines)', 'ledger/src/reasonTooLow.ts (401 lines)']);
  });
});
