// Agent-supplied text shown to a person (a terminal, a log line): every character that could move the
// cursor, rewrite a row or reorder what is read — C0 and C1 controls, DEL, the bidirectional overrides and
// isolates, line and paragraph separators — is shown as a visible escape instead, so what the approver
// reads is what the agent sent.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function displaySafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
