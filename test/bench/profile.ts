/**
 * Reading a V8 CPU profile (`node --cpu-prof`) of a target under load: self
 * and inclusive time per function, and self time per area (our code, each
 * package, Node, GC), over the samples taken inside a time window.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  where: string;
  /** Percent of the busy (non-idle) samples in the window. */
  pct: number;
}

export interface ProfileSummary {
  /** Samples in the window, idle included. */
  samples: number;
  busySamples: number;
  idlePct: number;
  self: Cost[];
  inclusive: Cost[];
  areas: { area: string; pct: number }[];
  /** Self time of each function plus the Node and native frames it called directly (no package in between). */
  chargedFunctions: Cost[];
  /** Self time of Node and native frames charged to the nearest package or file of ours above them. */
  charged: { area: string; pct: number }[];
  /** Inclusive share of a few named costs the lead asked about. */
  named: { cost: string; pct: number }[];
}

/** Our built code: everything after `dist/`. */
const OURS = /^.*?\/dist\//;

/** Where a frame's code lives, short. */
function whereOf(frame: CallFrame): string {
  if (!frame.url) return "";
  const url = frame.url.replace(/^file:\/\//, "");
  const nm = url.lastIndexOf("/node_modules/");
  const short = nm >= 0 ? url.slice(nm + "/node_modules/".length) : url.replace(OURS, "");
  return `${short}:${frame.lineNumber + 1}`;
}

/** The area a frame's self time is charged to. */
function areaOf(frame: CallFrame): string {
  const { functionName, url } = frame;
  if (!url) {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(program)") return "V8 (program: compiling, ICs, runtime)";
    return "native (builtins, C++)";
  }
  if (url.startsWith("node:")) return "Node core (http, streams, events, …)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const ours = url.replace(OURS, "");
  const [top, dir] = ours.split("/");
  if (top === "src") return `ours: src/${dir?.endsWith(".js") ? dir : `${dir}/`}`;
  if (top === "tools") return "ours: tools/";
  return ours;
}

const keyOf = (frame: CallFrame) => `${frame.functionName || "(anonymous)"}\u0000${whereOf(frame)}`;

/**
 * Costs the lead asked about (issue 12's v1 profile) and the ones this
 * profile shows, matched on the frames of a sample's stack: a sample counts
 * once per cost when any frame matches. Only self-contained costs are named:
 * a middleware's stack holds everything that runs after it (express calls
 * `next` inside it), so middleware is measured by self time instead.
 */
const NAMED: { cost: string; match: (frame: CallFrame) => boolean }[] = [
  {
    cost: "ES256 signature verification (jose → WebCrypto)",
    match: (f) => f.functionName === "verifySignature" || f.functionName === "ecdsaSignVerify",
  },
  { cost: "Ajv (compile or validate)", match: (f) => f.url.includes("/ajv/") },
  {
    cost: "zod → JSON Schema (toJSONSchema)",
    match: (f) => f.functionName === "toJSONSchema" && f.url.includes("/zod/"),
  },
  {
    cost: "zod parsing (safeParse/parse)",
    match: (f) =>
      /^(safeParse|parse|_parse|validate)$/.test(f.functionName) && f.url.includes("/zod/"),
  },
  {
    cost: "MCP era classification (classifyInboundRequest: our gate and the SDK each run it)",
    match: (f) => f.functionName === "classifyInboundRequest",
  },
  {
    cost: "Node request → Web Request (toWebRequest, toNodeHandler's bridge)",
    match: (f) => f.functionName === "toWebRequest",
  },
  {
    cost: "building the per-request McpServer (src/mcp/server.js)",
    match: (f) => f.url.includes("/mcp/server.js"),
  },
  {
    cost: "McpServer.registerTool",
    match: (f) => f.functionName === "registerTool",
  },
  {
    cost: "SdkError construction (stack capture)",
    match: (f) => f.functionName === "SdkError",
  },
  {
    cost: "Web Request/ReadableStream objects (undici, web streams)",
    match: (f) => f.url.includes("undici") || f.url.includes("webstreams"),
  },
  {
    cost: "AbortController/AbortSignal",
    match: (f) => /AbortController|AbortSignal|createAbortSignal/.test(f.functionName),
  },
  {
    cost: "backend.listTasks (src/workflows/local/engine.js)",
    match: (f) => f.functionName === "listTasks",
  },
  { cost: "the tools (tools/*)", match: (f) => f.url.includes("/dist/tools/") },
  {
    cost: "socket writes (writev/write syscalls)",
    match: (f) =>
      f.functionName === "writev" ||
      f.functionName === "writeUtf8String" ||
      f.functionName === "writeBuffer",
  },
  { cost: "pino (logging)", match: (f) => f.url.includes("/pino") },
  { cost: "GC", match: (f) => f.functionName === "(garbage collector)" },
];

const isPlatform = (area: string) =>
  area.startsWith("Node core") || area.startsWith("native") || area.startsWith("V8");

/**
 * Summarizes the samples taken between `from` and `to` (µs on the profile's
 * clock, which is CLOCK_MONOTONIC like the driver's process.hrtime); the
 * whole profile without a window.
 */
export function summarize(
  profile: CpuProfile,
  window?: { from: number; to: number },
  top = 25,
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  const named = new Map<string, number>();
  const charged = new Map<string, number>();
  const chargedFunctions = new Map<string, number>();
  let samples = 0;
  let busy = 0;
  let idle = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.from || at > window.to)) continue;
    samples++;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    if (node.callFrame.functionName === "(idle)") {
      idle++;
      continue;
    }
    busy++;
    const key = keyOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + 1);
    const area = areaOf(node.callFrame);
    areas.set(area, (areas.get(area) ?? 0) + 1);
    const seen = new Set<string>();
    const seenNamed = new Set<string>();
    let chargedTo: string | undefined;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) break;
      if (chargedTo === undefined && frame.functionName !== "(root)") {
        const frameArea = areaOf(frame);
        if (!isPlatform(frameArea)) {
          chargedTo = frameArea;
          const k = keyOf(frame);
          chargedFunctions.set(k, (chargedFunctions.get(k) ?? 0) + 1);
        }
      }
      const k = keyOf(frame);
      if (!seen.has(k)) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
      }
      for (const { cost, match } of NAMED) {
        if (!seenNamed.has(cost) && match(frame)) {
          seenNamed.add(cost);
          named.set(cost, (named.get(cost) ?? 0) + 1);
        }
      }
    }
    chargedTo ??= "Node core, under no package (event loop, HTTP parser, socket I/O)";
    charged.set(chargedTo, (charged.get(chargedTo) ?? 0) + 1);
  }
  const pct = (n: number) => (busy === 0 ? 0 : Math.round((n / busy) * 1000) / 10);
  const costs = (map: Map<string, number>, skip: (name: string) => boolean = () => false) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, n]) => {
        const [name = "", where = ""] = key.split("\u0000");
        return { name, where, pct: pct(n) };
      })
      .filter((cost) => !skip(cost.name))
      .slice(0, top);
  return {
    samples,
    busySamples: busy,
    idlePct: samples === 0 ? 0 : Math.round((idle / samples) * 1000) / 10,
    self: costs(self),
    // The root and the event loop's own frames are in every sample: not informative.
    inclusive: costs(inclusive, (name) => name === "(root)" || name === "(program)"),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, n]) => ({ area, pct: pct(n) })),
    chargedFunctions: costs(chargedFunctions),
    charged: [...charged.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, n]) => ({ area, pct: pct(n) })),
    named: NAMED.map(({ cost }) => ({ cost, pct: pct(named.get(cost) ?? 0) })),
  };
}

export function formatSummary(title: string, summary: ProfileSummary): string {
  const lines = [
    `${title}: ${summary.busySamples} busy samples (${summary.idlePct}% idle) in the window`,
    "  Self time by area:",
    ...summary.areas.slice(0, 16).map((a) => `    ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`),
    "  Self time charged to the nearest package or file of ours (Node/native frames to their caller):",
    ...summary.charged.slice(0, 16).map((a) => `    ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`),
    "  Named costs (on the stack, % of busy samples):",
    ...summary.named.map((n) => `    ${n.pct.toFixed(1).padStart(5)}%  ${n.cost}`),
    "  Top functions, self time plus the Node/native calls they made directly:",
    ...summary.chargedFunctions.map(
      (c) => `    ${c.pct.toFixed(1).padStart(5)}%  ${c.name}  ${c.where}`,
    ),
    "  Top self time:",
    ...summary.self.map((c) => `    ${c.pct.toFixed(1).padStart(5)}%  ${c.name}  ${c.where}`),
    "  Top inclusive time:",
    ...summary.inclusive.map((c) => `    ${c.pct.toFixed(1).padStart(5)}%  ${c.name}  ${c.where}`),
  ];
  return `${lines.join("\n")}\n`;
}
