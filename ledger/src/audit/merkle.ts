import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

/**
 * A Merkle tree in the shape of RFC 6962 (Certificate Transparency): leaves and inner nodes are
 * hashed with different prefixes (0x00, 0x01), so a leaf can never pass for a node, and a tree of n
 * leaves splits at the largest power of two below n. One leaf is proven against the root with
 * ⌈log2 n⌉ sibling hashes, without the other leaves.
 */

export const leafHash = (leaf: string): string => createHash('sha256').update('\x00').update(leaf).digest('hex');

const nodeHash = (left: string, right: string): string =>
  createHash('sha256').update('\x01').update(Buffer.from(left, 'hex')).update(Buffer.from(right, 'hex')).digest('hex');

/** The root of an empty tree: the hash of nothing, as in RFC 6962. */
export const emptyRoot = createHash('sha256').digest('hex');

const largestPowerOfTwoBelow = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/** The root over leaf hashes (already hashed with `leafHash`), in their order. */
export const merkleRoot = (leafHashes: readonly string[]): string => {
  if (leafHashes.length === 0) return emptyRoot;
  // Bottom-up with carried odd nodes gives the same tree as RFC 6962's recursive split.
  let level = [...leafHashes];
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as string, level[i + 1] as string));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as string);
    level = next;
  }
  return level[0] as string;
};

/** The sibling hashes that lead from leaf `index` to the root, bottom first (RFC 6962 audit path). */
export const inclusionProof = (leafHashes: readonly string[], index: number): string[] => {
  assert.ok(Number.isInteger(index) && index >= 0 && index < leafHashes.length, 'leaf index within the tree');
  const path = (leaves: readonly string[], m: number): string[] => {
    if (leaves.length <= 1) return [];
    const k = largestPowerOfTwoBelow(leaves.length);
    return m < k
      ? [...path(leaves.slice(0, k), m), merkleRoot(leaves.slice(k))]
      : [...path(leaves.slice(k), m - k), merkleRoot(leaves.slice(0, k))];
  };
  return path(leafHashes, index);
};

/** Whether `leaf` (a leaf hash) at `index` of a tree of `size` leaves has `root`, given its proof. */
export const verifyInclusion = (input: {
  readonly leafHash: string;
  readonly index: number;
  readonly size: number;
  readonly proof: readonly string[];
  readonly root: string;
}): boolean => {
  const { index, size, proof } = input;
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  // RFC 9162 §2.1.3.2, iterative form.
  let fn = index;
  let sn = size - 1;
  let r = input.leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r === input.root;
};
