/** Sizes in log and progress lines. */

/** mib formats a byte count in MiB with one decimal ("41.0"), without the unit. */
export function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
