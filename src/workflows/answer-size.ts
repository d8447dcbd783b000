/**
 * How many bytes a run takes as JSON, noted where that is known for free —
 * the database row or the API response it was read from — so that answer
 * budgets (ReadBudget) can weigh a run without serialising it again.
 */
const sizes = new WeakMap<object, number>();

export function noteAnswerSize<T extends object>(value: T, bytes: number): T {
  sizes.set(value, bytes);
  return value;
}

/** The bytes noted for `value`; 0 when none were (a run built here, already small or in memory). */
export const answerSizeOf = (value: object): number => sizes.get(value) ?? 0;
