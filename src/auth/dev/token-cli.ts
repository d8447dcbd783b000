/**
 * `npm run -s token -- [--server URL] [--user NAME] [scope …]`: prints an access token for
 * the running server, from its development authorization server (see
 * token-client.ts for how, and USAGE for what), and on stderr which server it
 * is for and when it expires.
 */
import { parseArgs } from "node:util";
import { decodeJwt } from "jose";
import { RUNNING_SERVER_FILE, runningServer } from "./running-server.js";
import { requestDevToken, TokenCommandError, USAGE } from "./token-client.js";

/** Which server to ask, and why that one: --server, then PORT, then the one `npm start` noted. */
function chooseServer(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { server: string; because: string } {
  if (option !== undefined) return { server: option, because: "--server" };
  if (env.PORT) return { server: `http://localhost:${env.PORT}`, because: "PORT" };
  const noted = runningServer();
  if (noted)
    return { server: noted, because: `the server npm start noted in ${RUNNING_SERVER_FILE}` };
  return {
    server: "http://localhost:3000",
    because: "the default port; set PORT or --server for another",
  };
}

/** What stderr says about a token: whose, for what, and until when (never the token itself). */
function describeToken(
  token: string,
  from: { server: string; because: string },
  now = Date.now(),
): string {
  const claims = decodeJwt(token);
  const lines = [
    `token: for ${claims.sub} at ${String(claims.aud)}, from ${from.server} (${from.because}); scopes: ${String(claims.scope ?? "")}`,
  ];
  if (typeof claims.exp === "number") {
    const minutes = Math.max(0, Math.round((claims.exp * 1000 - now) / 60_000));
    lines.push(
      `token: expires in ${minutes} minute${minutes === 1 ? "" : "s"}, at ${new Date(claims.exp * 1000).toISOString()}; for longer-lived tokens, start the server with AUTH_DEV_ACCESS_TOKEN_TTL=<seconds> (up to 86400)`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function main() {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    throw new TokenCommandError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const from = chooseServer(parsed.values.server);
  const { token } = await requestDevToken({
    server: from.server,
    scopes: parsed.positionals,
    ...(parsed.values.user === undefined ? {} : { user: parsed.values.user }),
  });
  process.stdout.write(`${token}\n`);
  process.stderr.write(describeToken(token, from));
}

function parse() {
  return parseArgs({
    options: {
      server: { type: "string" },
      user: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `token: ${error instanceof TokenCommandError ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
