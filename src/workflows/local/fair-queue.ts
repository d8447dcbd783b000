/** Owners remembered after their last item left, so a caller just served does not jump ahead on return. */
const REMEMBERED_OWNERS = 1_000;

interface Lane<T> {
  items: T[];
  /** When this owner was last served (0: never). */
  lastServed: number;
}

/**
 * A queue that takes turns between owners: each owner's items leave in the
 * order they came, and the owner served least recently goes next (ties: the
 * owner seen first). One owner's backlog therefore delays another's next item
 * by at most one item per other owner waiting, whatever its size.
 */
export class FairQueue<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private count = 0;
  private served = 0;

  get size(): number {
    return this.count;
  }

  sizeOf(owner: string): number {
    return this.lanes.get(owner)?.items.length ?? 0;
  }

  push(owner: string, item: T): void {
    const lane = this.lanes.get(owner);
    if (lane) lane.items.push(item);
    else this.lanes.set(owner, { items: [item], lastServed: 0 });
    this.count++;
  }

  /**
   * The oldest item of the owner whose turn it is, among the owners `eligible`
   * lets go now; an owner passed over keeps its turn.
   */
  shift(eligible?: (owner: string) => boolean): T | undefined {
    let next: Lane<T> | undefined;
    for (const [owner, lane] of this.lanes) {
      if (lane.items.length === 0 || (next && lane.lastServed >= next.lastServed)) continue;
      if (!eligible || eligible(owner)) next = lane;
    }
    if (!next) return undefined;
    next.lastServed = ++this.served;
    this.count--;
    const item = next.items.shift();
    this.forgetIdleOwners();
    return item;
  }

  /** Removes the first item matching, wherever it waits. */
  remove(matches: (item: T) => boolean): T | undefined {
    for (const lane of this.lanes.values()) {
      const index = lane.items.findIndex(matches);
      if (index < 0) continue;
      const [item] = lane.items.splice(index, 1);
      this.count--;
      return item;
    }
    return undefined;
  }

  /** Bounded memory: past REMEMBERED_OWNERS, owners with nothing waiting are forgotten. */
  private forgetIdleOwners(): void {
    if (this.lanes.size <= REMEMBERED_OWNERS) return;
    for (const [owner, lane] of this.lanes) {
      if (lane.items.length === 0) this.lanes.delete(owner);
    }
  }
}
