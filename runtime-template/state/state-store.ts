// Where obligations keep their state: usage counters for rate limits and budgets, and approvals.
// One interface, two stores: a local directory (the embedded default) and Redis (shared by replicas).
// Every operation that decides is atomic: a reservation either fits under every limit or changes nothing.

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired" | "executed";

export interface Approval {
  id: string;
  agent: string;
  tool: string;
  rule: string;
  /** sha256 of the agent, tool and exact (validated) input the approval is for. */
  binding: string;
  input: unknown;
  reason?: string;
  status: ApprovalStatus;
  createdAt: number;
  expiresAt: number;
  decidedBy?: string;
  decidedAt?: number;
}

/** One limit a request must fit under: `amount` more in the fixed window of `windowSeconds`. */
export interface Reservation {
  key: string;
  amount: number;
  max: number;
  windowSeconds: number;
}

export type ReserveResult = { ok: true } | { ok: false; index: number; used: number; retryAfterSeconds: number };

export class StateUnavailable extends Error {}

/** An agent has as many pending approvals as the store allows; a new one is refused until some are decided or expire. */
export class ApprovalLimitReached extends Error {
  constructor(readonly max: number) {
    super(`this agent already has ${max} pending approvals, the most allowed; wait until a person decides some, or they expire`);
  }
}

export interface StateStore {
  /** All or nothing: adds every amount to its window's counter unless one would pass its max. */
  reserve(reservations: readonly Reservation[], nowMs: number): Promise<ReserveResult>;
  createApproval(approval: Approval): Promise<void>;
  getApproval(id: string): Promise<Approval | undefined>;
  /** Moves an approval from one of `from` to `to` (compare-and-set); undefined when it was not in `from`. */
  transitionApproval(id: string, from: readonly ApprovalStatus[], to: ApprovalStatus, fields?: Partial<Approval>): Promise<Approval | undefined>;
  listApprovals(): Promise<Approval[]>;
  close(): Promise<void>;
}

/** Fixed windows aligned to the Unix epoch: a window of `seconds` starts at a multiple of it. */
export function windowOf(nowMs: number, seconds: number): { start: number; end: number } {
  const size = seconds * 1000;
  const start = Math.floor(nowMs / size) * size;
  return { start, end: start + size };
}

/** An approval that was not granted (or used) in time has expired, whatever its stored status says. */
export function effectiveStatus(approval: Approval, nowMs: number): ApprovalStatus {
  if ((approval.status === "pending" || approval.status === "approved") && nowMs >= approval.expiresAt) return "expired";
  return approval.status;
}

/** Whether a --state location names Redis (one server or a Sentinel set) rather than a local folder. */
export const isRedisUrl = (location: string): boolean => /^rediss?(-sentinel)?:\/\//.test(location);
