import type { StoredDoc } from '../readModels/readModelStore.js';
import type { VersionedProjection } from '../readModels/versionedProjection.js';

/** Every document of every collection of a read model's active version, in id order (for comparisons). */
export const dumpReadModel = async (projection: VersionedProjection): Promise<Record<string, StoredDoc[]>> => {
  const dump: Record<string, StoredDoc[]> = {};
  for (const spec of projection.collections) {
    const collection = await projection.reading(spec.name);
    const docs: StoredDoc[] = [];
    for (;;) {
      const last = docs[docs.length - 1];
      const page = await projection.store.find(collection, {
        orderBy: [['_id', 1]],
        limit: 5000,
        ...(last === undefined ? {} : { after: [last._id] }),
      });
      docs.push(...page);
      if (page.length < 5000) break;
    }
    dump[spec.name] = docs;
  }
  return dump;
};
