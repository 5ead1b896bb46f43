import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from './merkle.js';

const leaves = (n: number): string[] => Array.from({ length: n }, (_, i) => leafHash(`leaf-${i}`));
const node = (l: string, r: string): string =>
  createHash('sha256').update('\x01').update(Buffer.from(l, 'hex')).update(Buffer.from(r, 'hex')).digest('hex');

describe('Merkle tree', () => {
  it('has the RFC 6962 shape for small trees', () => {
    const [a, b, c] = leaves(3) as [string, string, string];
    expect(merkleRoot([a])).toBe(a);
    expect(merkleRoot([a, b])).toBe(node(a, b));
    expect(merkleRoot([a, b, c])).toBe(node(node(a, b), c));
  });

  it('proves every leaf of every tree against its root, and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), (size, pick) => {
        const tree = leaves(size);
        const root = merkleRoot(tree);
        const index = pick % size;
        const proof = inclusionProof(tree, index);
        const leaf = tree[index] as string;
        expect(verifyInclusion({ leafHash: leaf, index, size, proof, root })).toBe(true);
        // Another leaf, another index or a changed sibling fails.
        expect(verifyInclusion({ leafHash: leafHash('forged'), index, size, proof, root })).toBe(false);
        if (size > 1) {
          expect(verifyInclusion({ leafHash: leaf, index: (index + 1) % size, size, proof, root })).toBe(false);
          const tampered = [...proof];
          tampered[0] = leafHash('x');
          expect(verifyInclusion({ leafHash: leaf, index, size, proof: tampered, root })).toBe(false);
        }
      }),
    );
  });

  it('changes its root when any leaf changes, is dropped or two leaves swap', () => {
    const tree = leaves(9);
    const root = merkleRoot(tree);
    expect(merkleRoot(tree.slice(0, 8))).not.toBe(root);
    const swapped = [...tree];
    [swapped[2], swapped[3]] = [swapped[3] as string, swapped[2] as string];
    expect(merkleRoot(swapped)).not.toBe(root);
    const edited = [...tree];
    edited[8] = leafHash('other');
    expect(merkleRoot(edited)).not.toBe(root);
  });
});
