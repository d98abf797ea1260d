// Outcome records are written with the next audit batch, not before the answer (the decision record
// already made the request durable). A test reading them right after an answer waits for them here.

/** Calls `read` until `done` accepts its result (or `timeoutMs` passes), then returns the last result. */
export async function eventually<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = read();
  }
  return value;
}
