/** Replaces {{path.to.value}} with values from the variables; an unknown variable is an error, not a blank. */
export function renderTemplate(template: string, variables: Record<string, unknown>): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g, (_, name: string) => {
    let value: unknown = variables;
    for (const part of name.split('.')) {
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    }
    if (value === undefined) throw new Error(`the prompt uses {{${name}}}, which its config does not define`);
    if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(', ');
    return String(value);
  });
}
