/**
 * `npm run -s token -- [--server URL] [--user NAME] [scope …]`: prints an access token for
 * the running server, from its development authorization server (see
 * token-client.ts for how, and USAGE for what).
 */
import { parseArgs } from "node:util";
import { requestDevToken, TokenCommandError, USAGE } from "./token-client.js";

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
  const server = parsed.values.server ?? `http://localhost:${process.env.PORT ?? 3000}`;
  const { token } = await requestDevToken({
    server,
    scopes: parsed.positionals,
    ...(parsed.values.user === undefined ? {} : { user: parsed.values.user }),
  });
  process.stdout.write(`${token}\n`);
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
