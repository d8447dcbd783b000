import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type Database from "better-sqlite3";
import { BUSY_TIMEOUT_MS } from "../../db/sqlite.js";
import type { Logger } from "../../logger.js";
import {
  type BatchLimits,
  type Deleted,
  deleteExpiredRuns,
} from "./transitions/delete-expired-runs.js";

const DAY_MS = 86_400_000;

/** What one batch deletes at most: short enough that requests waiting behind it do not notice. */
const RETENTION_BATCH: BatchLimits = { runs: 200, logLines: 1_000, bytes: 16 * 1024 * 1024 };

/** Batches one pass runs at most; when it stops there, the next pass starts at once. */
const RETENTION_BATCHES_PER_PASS = 100;

/** Pages one step of incremental vacuum moves (4 MB of 4 KB pages), and steps per pass. */
const VACUUM_PAGES_PER_STEP = 1_024;
const VACUUM_STEPS_PER_PASS = 256;

/** How often retention looks: a quarter of the retention period, between 1 s and an hour. */
const retentionIntervalMs = (days: number): number =>
  Math.min(3_600_000, Math.max(1_000, (days * DAY_MS) / 4));

/**
 * When a pass deletes, at the latest, a tree whose root finished at
 * `completedAt`: the first pass after the period ends (unless something in
 * the tree is still unfinished then).
 */
export const deletedBy = (completedAt: string, days: number, now: Date): number =>
  Math.max(Date.parse(completedAt) + days * DAY_MS, now.getTime()) + retentionIntervalMs(days);

export interface RetentionOptions {
  db: Database.Database;
  logger: Logger;
  /** Finished run trees older than this are deleted; 0 keeps them forever. */
  days: number;
  now?: () => Date;
  batch?: BatchLimits;
  batchesPerPass?: number;
}

export interface Pass extends Deleted {
  /** The pass stopped at its bound: more may have expired. */
  more: boolean;
  /** How much smaller the database file became (incremental vacuum). */
  fileBytesFreed: number;
}

/**
 * Deletes finished runs once they are older than the retention period, with
 * their attempts and logs, and gives the space back to the file system. A
 * pass runs short batches (one transaction each) with the event loop free
 * between them, so requests interleave; it is bounded, and the next one
 * comes at once when it stopped at its bound. Passes start with the engine,
 * then every retentionIntervalMs, on a timer that keeps no process alive.
 */
export class Retention {
  private readonly now: () => Date;
  private readonly batch: BatchLimits;
  private readonly batchesPerPass: number;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<Pass> | undefined;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {
    this.now = options.now ?? (() => new Date());
    this.batch = options.batch ?? RETENTION_BATCH;
    this.batchesPerPass = options.batchesPerPass ?? RETENTION_BATCHES_PER_PASS;
  }

  /** The first pass now (after this tick), then one every interval. */
  start(): void {
    if (this.options.days > 0) this.schedule(0);
  }

  /** One pass (the one under way, if any). Its first batch runs before this returns. */
  pass(): Promise<Pass> {
    this.current ??= this.run().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  /** No more passes; resolves once the one under way has stopped after its batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(async () => {
      const pass = await this.pass().catch((error: unknown) => {
        this.options.logger.error({ err: error }, "deleting runs past their retention failed");
        return undefined;
      });
      if (!this.stopped) {
        this.schedule(pass?.more ? 0 : retentionIntervalMs(this.options.days));
      }
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<Pass> {
    const { db, days, logger } = this.options;
    const total: Pass = { runs: 0, logLines: 0, bytes: 0, more: false, fileBytesFreed: 0 };
    if (days === 0 || this.stopped) return total;
    const cutoff = new Date(this.now().getTime() - days * DAY_MS).toISOString();
    for (let batches = 0; !this.stopped; batches++) {
      if (batches === this.batchesPerPass) {
        total.more = true;
        break;
      }
      const deleted = deleteExpiredRuns(db, cutoff, this.batch);
      if (deleted.runs === 0 && deleted.logLines === 0) break;
      total.runs += deleted.runs;
      total.logLines += deleted.logLines;
      total.bytes += deleted.bytes;
      await yieldToEventLoop();
    }
    if (total.runs === 0 && total.logLines === 0) return total;
    total.fileBytesFreed = await this.reclaim();
    logger.info(
      {
        runs: total.runs,
        logLines: total.logLines,
        bytes: total.bytes,
        fileBytesFreed: total.fileBytesFreed,
      },
      "deleted runs past their retention",
    );
    return total;
  }

  /**
   * Incremental vacuum, a step at a time: the free pages at the end of the
   * file are cut off. In WAL mode the file shrinks when a checkpoint copies
   * the last commit, so one is run, never waiting for another connection.
   */
  private async reclaim(): Promise<number> {
    const { db } = this.options;
    const pages = () => db.pragma("page_count", { simple: true }) as number;
    const before = pages();
    for (let step = 0; step < VACUUM_STEPS_PER_PASS && !this.stopped; step++) {
      if (db.pragma("freelist_count", { simple: true }) === 0) break;
      db.exec(`PRAGMA incremental_vacuum(${VACUUM_PAGES_PER_STEP})`);
      await yieldToEventLoop();
    }
    db.pragma("busy_timeout = 0");
    try {
      db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    return (before - pages()) * (db.pragma("page_size", { simple: true }) as number);
  }
}
