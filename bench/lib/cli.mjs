// Command-line options of the side-by-side benchmarks: the flags every run shares, --help, and
// the check that a number option is a positive integer.
import { parseArgs } from 'node:util';

/** Flags shared by broker-forwarding.mjs and scenarios.mjs (each script gives the defaults). */
export function commonOptions({ durationMs }) {
  return {
    'duration-ms': { type: 'string', default: String(durationMs) },
    'warmup-ms': { type: 'string', default: '500' },
    reps: { type: 'string', default: '3' },
    'window-kib': { type: 'string', default: '2048' },
    'no-pin': { type: 'boolean', default: false },
    'broker-cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  };
}

/** Parses argv; prints `usage` and exits on --help. */
export function parseBenchArgs(options, usage) {
  const { values } = parseArgs({ options });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  /** `--name` (or `text`) as a positive integer; throws with the flag's name otherwise. */
  const positive = (name, text = values[name]) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`--${name} must be a positive integer`);
    }
    return value;
  };
  return { values, positive };
}
