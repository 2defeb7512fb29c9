/** A small argv parser: `--flag`, `--key value`, `--key=value`, repeated keys collect. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], spec: { options?: string[]; flags?: string[] }): ParsedArgs {
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  const takesValue = new Set(spec.options ?? []);
  const isFlag = new Set(spec.flags ?? []);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (isFlag.has(name) && eq < 0) {
      flags.add(name);
    } else if (takesValue.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      const list = options.get(name) ?? [];
      list.push(value);
      options.set(name, list);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positionals, options, flags };
}

export function lastOption(args: ParsedArgs, name: string): string | undefined {
  const list = args.options.get(name);
  return list?.[list.length - 1];
}
