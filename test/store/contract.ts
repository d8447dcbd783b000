import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApprovalRecord } from "../../src/approvals/approval.js";
import { type Migration, MigrationFailed, SchemaTooNew } from "../../src/db/migrate.js";
import { MAX_ID_CHARS, MAX_PAGE_SIZE, MAX_TEXT_CHARS } from "../../src/store/bounds.js";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import type { ApprovalQuery, AuditEvent, OwnedRun, Store } from "../../src/store/types.js";
import { InvalidCursor, InvalidInput } from "../../src/workflows/errors.js";
import type { Principal } from "../../src/workflows/run.js";

/** One empty database for one test, and how to reach it. */
export interface TestDatabase {
  /** Opens a store on it (migrating it), as a server instance starting would. */
  open(options?: { migrations?: readonly Migration[] }): Promise<Store>;
  /** Raw SQL on the same database, beside any store: to look at or tamper with the schema. */
  sql<T>(text: string): Promise<T[]>;
  /** What start-up failures name: the variable to fix and the database, without credentials. */
  variable: "LOCAL_DB_PATH" | "DATABASE_URL";
  description: string;
  close(): Promise<void>;
}

const ISSUER = "https://auth.example.com";
const OTHER_ISSUER = "https://other.example.com";
const alice: Principal = { issuer: ISSUER, subject: "alice" };
const bob: Principal = { issuer: ISSUER, subject: "bob" };
const aliceElsewhere: Principal = { issuer: OTHER_ISSUER, subject: "alice" };

/** 2026-01-01T00:00:00.000Z plus `n` minutes. */
const minute = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();

const run = (runId: string, owner: Principal, at: string, task = "square"): OwnedRun => ({
  runId,
  task,
  startedBy: { ...owner, clientId: "client-1", at },
});

const event = (at: string, fields: Partial<AuditEvent> = {}): AuditEvent => ({
  at,
  issuer: ISSUER,
  subject: "alice",
  clientId: "client-1",
  tool: "start_task_run",
  task: "square",
  runId: "trn-1",
  decision: "allowed",
  outcome: "started",
  ...fields,
});

/** Every page of a listing, following cursors; fails on a loop. */
async function allPages<T>(
  list: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    pages.push(page.items);
    cursor = page.nextCursor;
    if (pages.length > 50) throw new Error("no end to the pages");
  } while (cursor);
  return pages;
}

const migration = (version: number, sql: string): Migration => ({
  version,
  name: `test ${version}`,
  sql: { sqlite: sql, postgres: sql },
});

/**
 * What every Store must do, whatever the database. `fresh` gives an empty
 * database for each test.
 */
export function storeContract(fresh: () => Promise<TestDatabase>): void {
  let db: TestDatabase;
  let opened: Store[];
  let store: Store;

  const open = async (options?: { migrations?: readonly Migration[] }) => {
    const s = await db.open(options);
    opened.push(s);
    return s;
  };
  const versions = async () =>
    (
      await db.sql<{ version: number | string }>(
        "SELECT version FROM store_migrations ORDER BY version",
      )
    ).map((row) => Number(row.version));

  beforeEach(async () => {
    db = await fresh();
    opened = [];
    store = await open();
  });

  afterEach(async () => {
    for (const s of opened) await s.close();
    await db.close();
  });

  describe("who started which run", () => {
    it("records a run and reads it back exactly; an unknown run has no record", async () => {
      const record = run("trn-1", alice, "2026-01-01T00:00:00.123Z");
      await store.recordRun(record);
      expect(await store.ownedRun("trn-1")).toEqual(record);
      expect(await store.ownedRun("trn-2")).toBeUndefined();

      const noClient: OwnedRun = {
        runId: "trn-2",
        task: "greet",
        startedBy: { ...bob, at: minute(1) },
      };
      await store.recordRun(noClient);
      expect(await store.ownedRun("trn-2")).toEqual(noClient);
    });

    it("keeps the trace id of the call that started a run (version 4), and a record without one has none", async () => {
      const traced = run("trn-traced", alice, minute(1));
      traced.startedBy.traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      await store.recordRun(traced);
      await store.recordRun(run("trn-untraced", alice, minute(2)));
      expect(await store.ownedRun("trn-traced")).toEqual(traced);
      expect(Object.keys((await store.ownedRun("trn-untraced"))?.startedBy ?? {}).sort()).toEqual([
        "at",
        "clientId",
        "issuer",
        "subject",
      ]);
      expect((await store.listOwnedRuns(alice, { limit: 10 })).runs).toEqual([
        run("trn-untraced", alice, minute(2)),
        traced,
      ]);
    });

    it("stores times as UTC with milliseconds, whatever offset they came with", async () => {
      await store.recordRun(run("trn-1", alice, "2026-01-01T02:30:00+02:30"));
      expect((await store.ownedRun("trn-1"))?.startedBy.at).toBe("2026-01-01T00:00:00.000Z");
    });

    it("recording the same run again changes nothing", async () => {
      await store.recordRun(run("trn-1", alice, minute(1)));
      await store.recordRun(run("trn-1", bob, minute(2), "greet"));
      expect(await store.ownedRun("trn-1")).toEqual(run("trn-1", alice, minute(1)));
      expect((await store.listOwnedRuns(alice, { limit: 10 })).runs).toHaveLength(1);
      expect((await store.listOwnedRuns(bob, { limit: 10 })).runs).toEqual([]);
    });

    it("lists only the owner's runs: an owner is an issuer and a subject", async () => {
      await store.recordRun(run("trn-a1", alice, minute(1)));
      await store.recordRun(run("trn-b1", bob, minute(2)));
      await store.recordRun(run("trn-x1", aliceElsewhere, minute(3)));
      await store.recordRun(run("trn-a2", alice, minute(4)));

      const ids = async (owner: Principal) =>
        (await store.listOwnedRuns(owner, { limit: 10 })).runs.map((r) => r.runId);
      expect(await ids(alice)).toEqual(["trn-a2", "trn-a1"]);
      expect(await ids(bob)).toEqual(["trn-b1"]);
      expect(await ids(aliceElsewhere)).toEqual(["trn-x1"]);
      expect(await ids({ issuer: OTHER_ISSUER, subject: "bob" })).toEqual([]);
    });

    it("filters by task in the query, so every page but the last is full", async () => {
      for (let i = 0; i < 10; i++) {
        await store.recordRun(run(`trn-${i}`, alice, minute(i), i % 2 === 0 ? "square" : "greet"));
      }
      const pages = await allPages(async (cursor) => {
        const page = await store.listOwnedRuns(alice, { task: "square", limit: 2, cursor });
        return { items: page.runs.map((r) => r.runId), nextCursor: page.nextCursor };
      });
      expect(pages).toEqual([["trn-8", "trn-6"], ["trn-4", "trn-2"], ["trn-0"]]);
    });

    it("pages newest first, each full, with neither repeats nor gaps, ties in time kept in order", async () => {
      const expected: string[] = [];
      // Three runs share each instant: the order among them must still be stable.
      for (let i = 0; i < 7; i++)
        await store.recordRun(run(`trn-${i}`, alice, minute(Math.floor(i / 3))));
      for (let i = 6; i >= 0; i--) expected.push(`trn-${i}`);
      await store.recordRun(run("trn-bob", bob, minute(1)));

      const pages = await allPages(async (cursor) => {
        const page = await store.listOwnedRuns(alice, { limit: 3, cursor });
        return { items: page.runs.map((r) => r.runId), nextCursor: page.nextCursor };
      });
      expect(pages).toEqual([expected.slice(0, 3), expected.slice(3, 6), expected.slice(6)]);
    });

    it("gives no cursor when the last page is exactly full", async () => {
      for (let i = 0; i < 4; i++) await store.recordRun(run(`trn-${i}`, alice, minute(i)));
      const first = await store.listOwnedRuns(alice, { limit: 2 });
      const second = await store.listOwnedRuns(alice, { limit: 2, cursor: first.nextCursor });
      expect(second.runs.map((r) => r.runId)).toEqual(["trn-1", "trn-0"]);
      expect(second.nextCursor).toBeUndefined();
      expect(await store.listOwnedRuns(bob, { limit: 2 })).toEqual({ runs: [] });
    });

    it("refuses a cursor issued for another owner or another task", async () => {
      for (let i = 0; i < 3; i++) await store.recordRun(run(`trn-${i}`, alice, minute(i)));
      const { nextCursor } = await store.listOwnedRuns(alice, { task: "square", limit: 1 });
      expect(nextCursor).toBeDefined();
      const otherQueries = [
        () => store.listOwnedRuns(alice, { task: "greet", limit: 1, cursor: nextCursor }),
        () => store.listOwnedRuns(alice, { limit: 1, cursor: nextCursor }),
        () => store.listOwnedRuns(bob, { task: "square", limit: 1, cursor: nextCursor }),
        () => store.listOwnedRuns(aliceElsewhere, { task: "square", limit: 1, cursor: nextCursor }),
        () => store.listAuditEvents({ limit: 1, cursor: nextCursor }),
      ];
      for (const query of otherQueries) {
        await expect(query()).rejects.toThrow(
          new InvalidCursor(
            "That cursor belongs to a query with other filters; repeat the filters of the page it came from, or omit it to start over",
          ),
        );
      }
      // The same query with another page size is the same query.
      const next = await store.listOwnedRuns(alice, {
        task: "square",
        limit: 5,
        cursor: nextCursor,
      });
      expect(next.runs.map((r) => r.runId)).toEqual(["trn-1", "trn-0"]);
    });

    it("refuses a cursor it did not issue, with ERR_INVALID_CURSOR", async () => {
      const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const garbage = [
        "",
        "garbage",
        "%%%",
        forged({ q: "x", at: minute(1), seq: 1 }),
        forged({ q: "a".repeat(22), at: "yesterday", seq: 1 }),
        forged({ q: "a".repeat(22), at: minute(1), seq: -1 }),
        forged([1, 2, 3]),
        "A".repeat(10_000),
      ];
      for (const cursor of garbage) {
        const refusal = store.listOwnedRuns(alice, { limit: 1, cursor });
        await expect(refusal).rejects.toBeInstanceOf(InvalidCursor);
        await expect(refusal).rejects.toMatchObject({
          code: "ERR_INVALID_CURSOR",
          message:
            "That cursor is not one this server issued; pass next_cursor exactly as returned, or omit it to start over",
        });
      }
    });
  });

  describe("the audit trail", () => {
    it("appends events and lists them back exactly, newest first, absent fields absent", async () => {
      const first = event(minute(1));
      const bare: AuditEvent = { at: minute(2), decision: "refused", outcome: "invalid_token" };
      const withReason = event(minute(3), { outcome: "failed", reason: "ERR_BACKEND_UNAVAILABLE" });
      for (const e of [first, bare, withReason]) await store.appendAuditEvent(e);
      expect(await store.listAuditEvents({ limit: 10 })).toEqual({
        events: [withReason, bare, first],
      });
    });

    it("keeps an event's trace id (version 4); an event without one lists without one", async () => {
      const traced = event(minute(1), { traceId: "0af7651916cd43dd8448eb211c80319c" });
      const untraced = event(minute(2));
      for (const e of [traced, untraced]) await store.appendAuditEvent(e);
      expect(await store.listAuditEvents({ limit: 10 })).toEqual({ events: [untraced, traced] });
      expect("traceId" in ((await store.listAuditEvents({ limit: 1 })).events[0] ?? {})).toBe(
        false,
      );
    });

    it("filters by subject, task and run, alone and together", async () => {
      await store.appendAuditEvent(
        event(minute(1), { subject: "alice", task: "square", runId: "trn-1" }),
      );
      await store.appendAuditEvent(
        event(minute(2), { subject: "bob", task: "square", runId: "trn-2" }),
      );
      await store.appendAuditEvent(
        event(minute(3), { subject: "alice", task: "greet", runId: "trn-3" }),
      );
      await store.appendAuditEvent(
        event(minute(4), { subject: "alice", task: "square", runId: "trn-1", outcome: "canceled" }),
      );
      const times = async (query: Parameters<Store["listAuditEvents"]>[0]) =>
        (await store.listAuditEvents(query)).events.map((e) => e.at);

      expect(await times({ subject: "alice", limit: 10 })).toEqual([
        minute(4),
        minute(3),
        minute(1),
      ]);
      expect(await times({ task: "square", limit: 10 })).toEqual([minute(4), minute(2), minute(1)]);
      expect(await times({ runId: "trn-1", limit: 10 })).toEqual([minute(4), minute(1)]);
      expect(await times({ subject: "alice", task: "greet", limit: 10 })).toEqual([minute(3)]);
      expect(await times({ subject: "carol", limit: 10 })).toEqual([]);
    });

    it("takes `since` inclusive and `until` exclusive, in any offset", async () => {
      for (let i = 1; i <= 5; i++) await store.appendAuditEvent(event(minute(i)));
      const times = async (since?: string, until?: string) =>
        (await store.listAuditEvents({ since, until, limit: 10 })).events.map((e) => e.at);

      expect(await times(minute(2), minute(4))).toEqual([minute(3), minute(2)]);
      expect(await times(minute(4))).toEqual([minute(5), minute(4)]);
      expect(await times(undefined, minute(2))).toEqual([minute(1)]);
      // 01:03 at +01:00 is 00:03 UTC.
      expect(await times("2026-01-01T01:03:00+01:00", "2026-01-01T01:04:00.000+01:00")).toEqual([
        minute(3),
      ]);
      expect(await times(minute(4), minute(4))).toEqual([]);
    });

    it("pages a filtered trail newest first, and binds each cursor to its filters", async () => {
      for (let i = 0; i < 7; i++) {
        await store.appendAuditEvent(event(minute(i), { subject: i % 2 === 0 ? "alice" : "bob" }));
      }
      const query = { subject: "alice", since: minute(0), until: minute(7) };
      const pages = await allPages(async (cursor) => {
        const page = await store.listAuditEvents({ ...query, limit: 2, cursor });
        return { items: page.events.map((e) => e.at), nextCursor: page.nextCursor };
      });
      expect(pages).toEqual([
        [minute(6), minute(4)],
        [minute(2), minute(0)],
      ]);

      const { nextCursor } = await store.listAuditEvents({ ...query, limit: 1 });
      for (const other of [
        { ...query, subject: "bob" },
        { ...query, since: minute(1) },
        { ...query, until: undefined },
        { ...query, task: "square" },
        { ...query, runId: "trn-1" },
      ]) {
        await expect(
          store.listAuditEvents({ ...other, limit: 1, cursor: nextCursor }),
        ).rejects.toThrow(InvalidCursor);
      }
      // The same instants in another offset are the same filters.
      const sameQuery = { ...query, since: "2026-01-01T01:00:00+01:00" };
      const next = await store.listAuditEvents({ ...sameQuery, limit: 1, cursor: nextCursor });
      expect(next.events.map((e) => e.at)).toEqual([minute(4)]);
    });

    it("refuses times that are not ISO 8601 date-times with a zone", async () => {
      for (const [query, field] of [
        [{ since: "yesterday" }, "since"],
        [{ until: "2026-01-01" }, "until"],
        [{ since: "2026-01-01T00:00:00" }, "since"],
        [{ since: "0000-01-01T00:00:00Z" }, "since"],
        [{ until: "9999-12-31T23:00:00-05:00" }, "until"],
      ] as const) {
        await expect(store.listAuditEvents({ ...query, limit: 1 })).rejects.toThrow(
          new InvalidInput(
            `${field}: must be an ISO 8601 date-time with a time zone (years 1–9999), e.g. 2026-01-02T03:04:05Z`,
          ),
        );
      }
      await expect(store.appendAuditEvent(event("now"))).rejects.toBeInstanceOf(InvalidInput);
      await expect(store.recordRun(run("trn-1", alice, "now"))).rejects.toBeInstanceOf(
        InvalidInput,
      );
      expect(await store.listAuditEvents({ limit: 1 })).toEqual({ events: [] });
      expect(await store.ownedRun("trn-1")).toBeUndefined();
    });
  });

  describe("bounds", () => {
    it("cuts over-long ids to the bound without making two of them one", async () => {
      const long = (tail: string) => `${"s".repeat(MAX_ID_CHARS)}${tail}`;
      const first: Principal = { issuer: ISSUER, subject: long("1") };
      const second: Principal = { issuer: ISSUER, subject: long("2") };
      await store.recordRun(run(long("run"), first, minute(1), long("task")));
      await store.recordRun(run("trn-2", second, minute(2)));

      const stored = await store.ownedRun(long("run"));
      expect(stored?.runId).toHaveLength(MAX_ID_CHARS);
      expect(stored?.task).toHaveLength(MAX_ID_CHARS);
      expect(stored?.startedBy.subject).toHaveLength(MAX_ID_CHARS);
      expect(stored?.runId.startsWith("s".repeat(400))).toBe(true);
      expect(stored?.runId).toContain("…");
      expect((await store.listOwnedRuns(first, { limit: 10 })).runs.map((r) => r.runId)).toEqual([
        stored?.runId,
      ]);
      expect((await store.listOwnedRuns(second, { limit: 10 })).runs.map((r) => r.runId)).toEqual([
        "trn-2",
      ]);
      expect(
        (await store.listOwnedRuns(first, { task: long("task"), limit: 10 })).runs,
      ).toHaveLength(1);
    });

    it("cuts an audit event's fields and reason, and filters by the long values given", async () => {
      const long = "x".repeat(5_000);
      await store.appendAuditEvent(
        event(minute(1), {
          subject: long,
          tool: long,
          outcome: long,
          reason: `${"r".repeat(5_000)}`,
        }),
      );
      const [stored] = (await store.listAuditEvents({ subject: long, limit: 1 })).events;
      expect(stored?.subject).toHaveLength(MAX_ID_CHARS);
      expect(stored?.tool).toHaveLength(MAX_ID_CHARS);
      expect(stored?.outcome).toHaveLength(MAX_ID_CHARS);
      expect(stored?.reason).toBe(`${"r".repeat(MAX_TEXT_CHARS - 1)}…`);
    });

    it("stores NUL as U+FFFD in both databases, and finds it by the same value", async () => {
      await store.appendAuditEvent(event(minute(1), { subject: "a\0b", reason: "x\0" }));
      const { events } = await store.listAuditEvents({ subject: "a\0b", limit: 1 });
      expect(events.map((e) => [e.subject, e.reason])).toEqual([["a\uFFFDb", "x\uFFFD"]]);
    });

    it("lowers a limit above the maximum, and refuses one that is not a whole number from 1", async () => {
      for (let i = 0; i < MAX_PAGE_SIZE + 1; i++) await store.appendAuditEvent(event(minute(i)));
      const page = await store.listAuditEvents({ limit: 1_000_000 });
      expect(page.events).toHaveLength(MAX_PAGE_SIZE);
      expect(page.nextCursor).toBeDefined();

      for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const refusal = new InvalidInput(
          `limit: must be a whole number from 1 to ${MAX_PAGE_SIZE}`,
        );
        await expect(store.listAuditEvents({ limit })).rejects.toThrow(refusal);
        await expect(store.listOwnedRuns(alice, { limit })).rejects.toThrow(refusal);
      }
    });

    it("refuses a malformed event or run record, naming the field", async () => {
      const bad = { ...event(minute(1)), decision: "maybe" } as unknown as AuditEvent;
      await expect(store.appendAuditEvent(bad)).rejects.toThrow(InvalidInput);
      await expect(store.appendAuditEvent(bad)).rejects.toThrow(/^audit event: decision: /);
      const noSubject = { runId: "trn-1", task: "t", startedBy: { issuer: ISSUER, at: minute(1) } };
      await expect(store.recordRun(noSubject as unknown as OwnedRun)).rejects.toThrow(
        /^run: startedBy\.subject: /,
      );
    });
  });

  describe("approval requests", () => {
    const request = (
      id: string,
      who: Principal,
      at: string,
      fields: Partial<ApprovalRecord> = {},
    ): ApprovalRecord => ({
      id,
      status: "pending",
      task: "deploy",
      taskRef: "deploy",
      input: { env: "prod", n: [1, 2] },
      mode: "approver",
      requestedBy: { ...who, clientId: "client-1" },
      createdAt: at,
      expiresAt: minute(60),
      ...fields,
    });
    const summary = ({ input: _input, ...rest }: ApprovalRecord) => rest;

    it("records a request and reads it back exactly, input included; lists never carry the input", async () => {
      const record = request("apr-1", alice, minute(1));
      await store.approvals.create(record);
      expect(await store.approvals.get("apr-1")).toEqual(record);
      expect(await store.approvals.get("apr-2")).toBeUndefined();
      expect(await store.approvals.target("apr-1")).toEqual({
        task: "deploy",
        mode: "approver",
        requestedBy: { ...alice, clientId: "client-1" },
      });
      expect(await store.approvals.target("apr-2")).toBeUndefined();
      expect(await store.approvals.list({ requester: alice, limit: 10 })).toEqual({
        approvals: [summary(record)],
      });
    });

    it("a decision is one conditional write: the first wins, later ones change nothing", async () => {
      await store.approvals.create(request("apr-1", alice, minute(1)));
      const other = await open();
      const decisions = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? store : other).approvals.decide("apr-1", {
            status: i % 3 === 0 ? "denied" : "approved",
            by: { issuer: ISSUER, subject: `approver-${i}` },
            at: minute(2),
          }),
        ),
      );
      const won = decisions.filter((d) => d !== undefined);
      expect(won).toHaveLength(1);
      expect(await store.approvals.get("apr-1")).toEqual(won[0]);
    });

    it("no decision after expiry; the sweep expires each request once, however many instances sweep", async () => {
      await store.approvals.create(request("apr-1", alice, minute(1)));
      await store.approvals.create(request("apr-2", alice, minute(2), { expiresAt: minute(90) }));
      expect(
        await store.approvals.decide("apr-1", { status: "approved", by: bob, at: minute(60) }),
      ).toBeUndefined();
      expect(await store.approvals.pendingCount(alice, minute(59))).toBe(2);
      expect(await store.approvals.pendingCount(alice, minute(60))).toBe(1);
      const other = await open();
      const swept = await Promise.all([
        store.approvals.expireDue(minute(61), 10),
        other.approvals.expireDue(minute(61), 10),
      ]);
      expect(swept.flat().map((a) => [a.id, a.status, a.decidedAt])).toEqual([
        ["apr-1", "expired", minute(60)],
      ]);
      expect((await store.approvals.get("apr-2"))?.status).toBe("pending");
    });

    it("one claimant at a time starts an approved run; a stale claim is taken over; the run is recorded once", async () => {
      await store.approvals.create(request("apr-1", alice, minute(1)));
      expect(await store.approvals.claimStart("apr-1", minute(2), minute(1))).toBe(false);
      await store.approvals.decide("apr-1", { status: "approved", by: bob, at: minute(2) });
      expect(await store.approvals.unstarted(minute(3), minute(0), 10)).toEqual(["apr-1"]);
      const claims = await Promise.all([
        store.approvals.claimStart("apr-1", minute(3), minute(2)),
        store.approvals.claimStart("apr-1", minute(3), minute(2)),
      ]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await store.approvals.unstarted(minute(3), minute(0), 10)).toEqual([]);
      // A claim given up (its start failed) is free at once.
      await store.approvals.releaseStart("apr-1");
      expect(await store.approvals.unstarted(minute(3), minute(0), 10)).toEqual(["apr-1"]);
      expect(await store.approvals.claimStart("apr-1", minute(3), minute(2))).toBe(true);
      // Its claimant stopped: a claim older than staleBefore may be taken over.
      expect(await store.approvals.claimStart("apr-1", minute(5), minute(4))).toBe(true);
      await store.approvals.recordRun("apr-1", "trn-1");
      await store.approvals.recordRun("apr-1", "trn-2");
      expect((await store.approvals.get("apr-1"))?.runId).toBe("trn-1");
      expect(await store.approvals.claimStart("apr-1", minute(9), minute(8))).toBe(false);
      expect(await store.approvals.unstarted(minute(9), minute(0), 10)).toEqual([]);
    });

    it("lists a requester's own, and the approver-mode requests of the tasks one decides, newest first, by page", async () => {
      await store.approvals.create(request("apr-a1", alice, minute(1)));
      await store.approvals.create(
        request("apr-a2", alice, minute(2), { task: "migrate", taskRef: "migrate" }),
      );
      await store.approvals.create(request("apr-a3", alice, minute(3), { mode: "self" }));
      await store.approvals.create(request("apr-b1", bob, minute(4)));
      const ids = async (query: Omit<ApprovalQuery, "limit">) =>
        (await store.approvals.list({ ...query, limit: 10 })).approvals.map((a) => a.id);
      expect(await ids({ requester: alice })).toEqual(["apr-a3", "apr-a2", "apr-a1"]);
      expect(await ids({ requester: bob })).toEqual(["apr-b1"]);
      expect(await ids({ requester: bob, decides: ["deploy"] })).toEqual(["apr-b1", "apr-a1"]);
      expect(await ids({ requester: bob, decides: "all" })).toEqual(["apr-b1", "apr-a2", "apr-a1"]);
      expect(await ids({ requester: bob, decides: "all", task: "migrate" })).toEqual(["apr-a2"]);
      expect(await ids({ requester: alice, status: "approved" })).toEqual([]);
      const first = await store.approvals.list({ requester: bob, decides: "all", limit: 2 });
      expect(first.approvals.map((a) => a.id)).toEqual(["apr-b1", "apr-a2"]);
      const second = await store.approvals.list({
        requester: bob,
        decides: "all",
        limit: 2,
        cursor: first.nextCursor,
      });
      expect(second).toEqual({ approvals: [summary(request("apr-a1", alice, minute(1)))] });
      // A cursor is bound to its caller and filters.
      await expect(
        store.approvals.list({ requester: alice, limit: 2, cursor: first.nextCursor }),
      ).rejects.toBeInstanceOf(InvalidCursor);
    });
  });

  describe("instances and migrations", () => {
    it("two instances on one database see each other's writes", async () => {
      const other = await open();
      await store.recordRun(run("trn-1", alice, minute(1)));
      await other.appendAuditEvent(event(minute(2)));
      expect(await other.ownedRun("trn-1")).toEqual(run("trn-1", alice, minute(1)));
      expect((await other.listOwnedRuns(alice, { limit: 5 })).runs).toHaveLength(1);
      expect((await store.listAuditEvents({ limit: 5 })).events).toEqual([event(minute(2))]);
    });

    it("a cursor from one instance is honoured by another", async () => {
      for (let i = 0; i < 3; i++) await store.recordRun(run(`trn-${i}`, alice, minute(i)));
      const other = await open();
      const first = await store.listOwnedRuns(alice, { limit: 2 });
      const second = await other.listOwnedRuns(alice, { limit: 2, cursor: first.nextCursor });
      expect(second).toEqual({ runs: [run("trn-0", alice, minute(0))] });
    });

    it("records the schema version once; starting again applies nothing and keeps the data", async () => {
      expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version));
      await store.recordRun(run("trn-1", alice, minute(1)));
      await store.close();
      opened = opened.filter((s) => s !== store);
      const again = await open();
      expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await again.ownedRun("trn-1")).toEqual(run("trn-1", alice, minute(1)));
    });

    it("instances starting at once on an empty database all start, and migrate it once", async () => {
      // `store` migrated this database already: start over on a second, untouched one.
      await store.close();
      await db.close();
      db = await fresh();
      opened = [];
      const instances = await Promise.all([open(), open(), open(), open()]);
      expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version));
      await instances[0]?.recordRun(run("trn-1", alice, minute(1)));
      for (const instance of instances) {
        expect(await instance.ownedRun("trn-1")).toEqual(run("trn-1", alice, minute(1)));
      }
    });

    it("an upgrade applies only the versions the database lacks, in order", async () => {
      const upgrade = [
        ...MIGRATIONS,
        migration(1001, "CREATE TABLE store_test_a (id integer)"),
        migration(
          1002,
          "CREATE TABLE store_test_b (id integer); INSERT INTO store_test_a VALUES (1)",
        ),
      ];
      await open({ migrations: upgrade });
      expect(await versions()).toEqual([...MIGRATIONS.map((m) => m.version), 1001, 1002]);
      expect(await db.sql("SELECT id FROM store_test_a")).toEqual([{ id: 1 }]);
      // Applying any of them twice would fail: CREATE TABLE of a table that exists.
      await open({ migrations: upgrade });
      expect(await db.sql("SELECT id FROM store_test_a")).toEqual([{ id: 1 }]);
    });

    it("a failed migration rolls back the whole start, and says which one failed", async () => {
      const broken = [
        ...MIGRATIONS,
        migration(1001, "CREATE TABLE store_test_a (id integer)"),
        migration(1002, "THIS IS NOT SQL"),
      ];
      const failure = open({ migrations: broken });
      await expect(failure).rejects.toBeInstanceOf(MigrationFailed);
      await expect(failure).rejects.toMatchObject({
        code: "ERR_MIGRATION_FAILED",
        message: expect.stringMatching(
          new RegExp(
            `^${db.variable}: migrating ${literal(db.description)} to store schema version 1002 \\(test 1002\\) failed \\(.+\\)$`,
          ),
        ),
      });
      expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await db.sql("SELECT 1 AS found FROM store_migrations WHERE version = 1001")).toEqual(
        [],
      );
      // store_test_a went with the rollback: creating it again succeeds.
      await db.sql("CREATE TABLE store_test_a (id integer)");
    });

    it("refuses a database a newer server migrated, naming the variable and both versions", async () => {
      await db.sql(
        "INSERT INTO store_migrations (version, name, applied_at) VALUES (99, 'from the future', '2030-01-01T00:00:00.000Z')",
      );
      const known = MIGRATIONS.at(-1)?.version;
      const refusal = open();
      await expect(refusal).rejects.toBeInstanceOf(SchemaTooNew);
      await expect(refusal).rejects.toMatchObject({
        code: "ERR_SCHEMA_TOO_NEW",
        message: `${db.variable}: ${db.description} has store schema version 99, newer than this server knows (${known}); run a server at least as new as the one that migrated it`,
      });
      // Nothing was changed by the refusal.
      expect(await versions()).toEqual([...MIGRATIONS.map((m) => m.version), 99]);
    });
  });
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
