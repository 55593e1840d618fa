/** RFC 4180 CSV cells: quoted only when needed, so plain numeric logs stay easy to grep. */
export function csvCell(value: string | number | boolean | undefined | null): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly (string | number | boolean | undefined | null)[]): string {
  return `${values.map(csvCell).join(",")}\n`;
}
