/**
 * The 2026-07-28 revision, which the SDK serves per request (it does not
 * export its list of modern revisions). An instance for that era lists it
 * among its versions from the start, as the SDK's entry adds it to the
 * instances it serves; so a long-lived instance (fast-path.ts) is bound to
 * it when connected, as the SDK documents.
 */
export const MODERN_REVISION = "2026-07-28";
