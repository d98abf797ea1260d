// Golden-file comparison: UPDATE_SNAPSHOTS=1 rewrites the expected file instead of comparing.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";

export const updatingSnapshots = process.env.UPDATE_SNAPSHOTS === "1";

export function expectGolden(file: string, actual: string): void {
  if (updatingSnapshots || !existsSync(file)) {
    if (!updatingSnapshots) throw new Error(`missing golden file ${file}; run UPDATE_SNAPSHOTS=1 npm test and review it`);
    writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}
