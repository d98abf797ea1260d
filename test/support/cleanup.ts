// Runs in every test file (vitest setupFiles): a test that fails before stopping its bundle must not
// leave the process running after the file.
import { afterAll } from "vitest";
import { killRunningBundles } from "./bundle-process.js";

afterAll(() => killRunningBundles());
