import { createHash } from "node:crypto";

/** Text as HTML text or a quoted attribute value: nothing in it can become markup. */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
  :root { color-scheme: light; --ink: #1c2230; --muted: #5b6478; --line: #e3e6ee; --accent: #4f46e5; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f4f5f9; }
  main { max-width: 46rem; margin: 2.5rem auto; background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 2rem; box-shadow: 0 10px 30px rgba(20, 30, 60, .06); }
  h1 { font-size: 1.35rem; margin: 0 0 1rem; }
  h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 1.5rem 0 .5rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
  dt { color: var(--muted); }
  dd { margin: 0; word-break: break-all; }
  code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
  pre { background: #f7f8fb; border: 1px solid var(--line); border-radius: 8px; padding: .8rem; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-all; }
  .status { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-weight: 600; background: #eef0f6; }
  .status.approved { background: #dcfce7; color: #14532d; }
  .status.denied, .status.expired, .status.canceled { background: #fee2e2; color: #7f1d1d; }
  .status.pending { background: #fff4d6; color: #6b4e00; }
  .note { color: var(--muted); }
  .message { padding: .8rem 1rem; border-radius: 10px; background: #fff4d6; border: 1px solid #f0dc9c; }
  textarea { display: block; width: 100%; min-height: 4.5rem; margin-top: .35rem; padding: .55rem .7rem; border: 1px solid var(--line); border-radius: 8px; font: inherit; }
  .actions { display: flex; gap: .75rem; margin-top: 1rem; }
  button { flex: 1; padding: .7rem; border-radius: 9px; font: inherit; font-weight: 600; cursor: pointer; border: 1px solid var(--line); background: #fff; color: var(--ink); }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  .who { color: var(--muted); font-size: .85rem; margin-top: 1.5rem; }
`;

/** The one style block, allowed by its hash: no other style, and no script at all, can run. */
const STYLE_HASH = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

/** Every page response's headers: never framed, cached, or leaking its URL onwards. */
export const PAGE_HEADERS = {
  "Content-Security-Policy": `default-src 'none'; style-src ${STYLE_HASH}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
} as const;

/** A whole page around `body` (already HTML). */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — workflows-mcp</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

/** A page that says one thing (an error, a refusal), with an optional link onwards. */
export function messagePage(
  title: string,
  message: string,
  link?: { href: string; text: string },
): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p class="message" id="message">${escapeHtml(message)}</p>${
      link ? `\n<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : ""
    }`,
  );
}
