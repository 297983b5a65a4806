#!/usr/bin/env node
// The productsearch CLI, the same in every language (clients/*/run.sh): upsert a folder,
// search by image, text or catalog product. Exit 0 on success, 1 on a usage or local error
// (bad arguments, unreadable file), 2 when the RPC fails.
import { DEFAULT_DEADLINE_S, DEFAULT_TARGET, ProductSearchClient, ProductSearchError } from "./client";
import { formatHits } from "./format";

const USAGE = `usage: run.sh [--target HOST:PORT] [--deadline SECONDS] [--api-key KEY] [--catalog ID] COMMAND ...
  upsert FOLDER                   upsert every .jpg/.jpeg/.png/.webp file under FOLDER
                                  (id = relative path without extension, category = its
                                  folder, title = <stem>.txt; names starting with "." skipped)
  search-image PATH [--top-k N]   products that look like the image at PATH
  search-text TEXT [--top-k N]    products matching a keyword or sentence
  similar PRODUCT_ID [--top-k N]  products that look like a catalog product
options:
  --target HOST:PORT   gateway address (env PRODUCTSEARCH_TARGET, default ${DEFAULT_TARGET})
  --deadline SECONDS   deadline of every call (default ${DEFAULT_DEADLINE_S})
  --api-key KEY        sent as "authorization: Bearer KEY" (env PRODUCTSEARCH_API_KEY)
  --catalog ID         catalog id (shop-a) or name (catalogs/shop-a) of every call
                       (env PRODUCTSEARCH_CATALOG, default the default catalog)
  --top-k N            number of hits (default 10)
`;

const COMMANDS = ["upsert", "search-image", "search-text", "similar"] as const;
type Command = (typeof COMMANDS)[number];

interface Invocation {
  target: string;
  deadlineS: number;
  apiKey: string | undefined;
  catalog: string;
  command: Command;
  argument: string;
  topK: number;
}

class UsageError extends Error {}

class HelpRequested extends Error {}

/** Splits `--name=value` or takes the next argument as the option's value. */
function optionValue(argv: string[], index: number): [name: string, value: string, next: number] {
  const argument = argv[index];
  const equals = argument.indexOf("=");
  if (equals >= 0) {
    return [argument.slice(0, equals), argument.slice(equals + 1), index + 1];
  }
  if (index + 1 >= argv.length) {
    throw new UsageError(`${argument} needs a value`);
  }
  return [argument, argv[index + 1], index + 2];
}

function isOption(argument: string): boolean {
  return argument.startsWith("-") && argument !== "-";
}

function parseDeadline(text: string): number {
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--deadline must be a positive number of seconds, not ${JSON.stringify(text)}`);
  }
  return seconds;
}

function parseTopK(text: string): number {
  const topK = Number(text);
  if (!/^[+-]?\d+$/.test(text) || topK < -(2 ** 31) || topK >= 2 ** 31) {
    throw new UsageError(`--top-k must be an integer, not ${JSON.stringify(text)}`);
  }
  return topK;
}

export function parseArguments(argv: string[], env: NodeJS.ProcessEnv): Invocation {
  let target = env.PRODUCTSEARCH_TARGET || DEFAULT_TARGET;
  let deadlineS = DEFAULT_DEADLINE_S;
  let apiKey = env.PRODUCTSEARCH_API_KEY || undefined;
  let catalog = env.PRODUCTSEARCH_CATALOG || "";
  let index = 0;
  while (index < argv.length && isOption(argv[index])) {
    if (argv[index] === "-h" || argv[index] === "--help") {
      throw new HelpRequested();
    }
    if (argv[index] === "--") {
      index += 1;
      break;
    }
    const [name, value, next] = optionValue(argv, index);
    if (name === "--target") {
      target = value;
    } else if (name === "--deadline") {
      deadlineS = parseDeadline(value);
    } else if (name === "--api-key") {
      apiKey = value;
    } else if (name === "--catalog") {
      catalog = value;
    } else {
      throw new UsageError(`unknown option ${name}`);
    }
    index = next;
  }
  if (index >= argv.length) {
    throw new UsageError("missing COMMAND");
  }
  const command = argv[index] as Command;
  if (!COMMANDS.includes(command)) {
    throw new UsageError(`unknown command ${JSON.stringify(argv[index])}`);
  }
  const positional: string[] = [];
  let topK = 10;
  let optionsEnded = false;
  for (index += 1; index < argv.length; ) {
    const argument = argv[index];
    if (optionsEnded || !isOption(argument)) {
      positional.push(argument);
      index += 1;
    } else if (argument === "--") {
      optionsEnded = true;
      index += 1;
    } else if (argument === "-h" || argument === "--help") {
      throw new HelpRequested();
    } else {
      const [name, value, next] = optionValue(argv, index);
      if (name !== "--top-k" || command === "upsert") {
        throw new UsageError(`unknown option ${name} for ${command}`);
      }
      topK = parseTopK(value);
      index = next;
    }
  }
  if (positional.length !== 1) {
    throw new UsageError(`${command} takes exactly one argument, got ${positional.length}`);
  }
  return { target, deadlineS, apiKey, catalog, command, argument: positional[0], topK };
}

async function execute(client: ProductSearchClient, invocation: Invocation): Promise<string> {
  const { command, argument, topK } = invocation;
  switch (command) {
    case "upsert": {
      const summary = await client.upsertFolder(argument);
      const failures = summary.failures.map((f) => `failed\t${f.id}\t${f.codeName}\t${f.message}\n`);
      return `upserted ${summary.upserted} failed ${summary.failed}\n${failures.join("")}`;
    }
    case "search-image":
      return formatHits(await client.searchByImage(argument, { topK }));
    case "search-text":
      return formatHits(await client.searchByText(argument, { topK }));
    case "similar":
      return formatHits(await client.searchSimilar(argument, { topK }));
  }
}

export async function main(argv: string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseArguments(argv, process.env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n${USAGE}`);
      return 1;
    }
    throw error;
  }
  const client = new ProductSearchClient(invocation.target, {
    apiKey: invocation.apiKey,
    catalog: invocation.catalog,
    deadlineS: invocation.deadlineS,
  });
  try {
    process.stdout.write(await execute(client, invocation));
    return 0;
  } catch (error) {
    if (error instanceof ProductSearchError) {
      process.stderr.write(`error: ${error.codeName}: ${error.details}\n`);
      return 2;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E")) {
      process.stderr.write(`error: ${(error as Error).message}\n`); // e.g. ENOENT: no such file
      return 1;
    }
    throw error;
  } finally {
    client.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
