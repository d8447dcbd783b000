export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export interface ConsentPageModel {
  action: string;
  clientName: string;
  clientId: string;
  redirectUri: string;
  resource?: string;
  /** The name the form starts with: the signed-in user's, else `developer`. */
  username: string;
  scopes: ConsentScope[];
}

export interface ConsentScope {
  name: string;
  meaning: string;
  /** Why the scope is broad; a broad scope starts unchecked. */
  broad?: string;
  /** Whether its box starts checked: least privilege, so only what is narrow and understood. */
  checked: boolean;
}

export function consentPage(model: ConsentPageModel): string {
  const scopes = model.scopes
    .map(
      ({ name, meaning, broad, checked }) => `
      <label class="scope${broad ? " broad" : ""}">
        <input type="checkbox" name="scope" value="${escapeHtml(name)}"${checked ? " checked" : ""}>
        <span><code>${escapeHtml(name)}</code><small>${escapeHtml(meaning)}</small>${broad ? `<small class="why-broad">Broad: ${escapeHtml(broad)}. Not selected unless you check it.</small>` : ""}</span>
      </label>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorize ${escapeHtml(model.clientName)} — workflows-mcp (development)</title>
<style>
  :root { color-scheme: light; --ink: #1c2230; --muted: #5b6478; --line: #e3e6ee; --accent: #4f46e5; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f4f5f9; }
  .banner { background: #fff4d6; color: #6b4e00; border-bottom: 1px solid #f0dc9c; padding: .6rem 1rem; text-align: center; font-weight: 600; }
  main { max-width: 30rem; margin: 2.5rem auto; background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 2rem; box-shadow: 0 10px 30px rgba(20, 30, 60, .06); }
  h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
  .sub { color: var(--muted); margin: 0 0 1.5rem; word-break: break-all; }
  label.user { display: block; font-weight: 600; margin-bottom: 1.25rem; }
  label.user input { display: block; width: 100%; margin-top: .35rem; padding: .55rem .7rem; border: 1px solid var(--line); border-radius: 8px; font: inherit; }
  h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .5rem; }
  .scope { display: flex; gap: .75rem; align-items: flex-start; padding: .7rem .8rem; border: 1px solid var(--line); border-radius: 10px; margin-bottom: .5rem; cursor: pointer; }
  .scope input { margin-top: .3rem; accent-color: var(--accent); }
  .scope small { display: block; color: var(--muted); }
  .scope.broad { border-color: #f0dc9c; background: #fffbea; }
  .scope small.why-broad { color: #6b4e00; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { flex: 1; padding: .7rem; border-radius: 9px; font: inherit; font-weight: 600; cursor: pointer; border: 1px solid var(--line); background: #fff; color: var(--ink); }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  .fine { color: var(--muted); font-size: .8rem; margin-top: 1.25rem; }
</style>
</head>
<body>
<div class="banner">Development authorization server — not for production: no passwords, loopback only</div>
<main>
  <h1><span id="client-name">${escapeHtml(model.clientName)}</span> wants access to your workflows</h1>
  <p class="sub">${model.resource ? `Resource <code>${escapeHtml(model.resource)}</code><br>` : ""}Client <code>${escapeHtml(model.clientId)}</code></p>
  <form method="post" action="${escapeHtml(model.action)}">
    <label class="user">Sign in as
      <input name="username" value="${escapeHtml(model.username)}" autocomplete="username" maxlength="64">
    </label>
    <h2>Allow it to</h2>
    ${scopes}
    <div class="actions">
      <button type="submit" name="decision" value="deny">Deny</button>
      <button type="submit" name="decision" value="approve" class="primary">Approve selected</button>
    </div>
  </form>
  <p class="fine">Approving sends you back to <code>${escapeHtml(model.redirectUri)}</code>. Only the checked permissions are granted; broad ones are left for you to check.</p>
</main>
</body>
</html>`;
}
