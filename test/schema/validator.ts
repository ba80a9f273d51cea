/**
 * A small JSON Schema validator: the subset of draft 2020-12 that docs/schema uses, written here
 * rather than adding a dependency (the schemas are ours, and this subset is enough to check the
 * tool's real outputs against them). Keywords: $ref (to "#/$defs/x" or "<file>#/$defs/x" of a
 * registered schema), $defs, type, enum, const, properties, required, additionalProperties
 * (false or a schema), items, minItems, minimum, maximum, pattern, allOf, anyOf, oneOf, if/then/else.
 * Any other keyword is an error in the schema, so a schema cannot silently ask for a check this
 * validator does not make. Annotations ($schema, $id, title, description, $comment, examples)
 * are ignored.
 */
export type Schema = boolean | { readonly [keyword: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$comment', 'examples', '$defs']);
const KEYWORDS = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'minimum', 'maximum', 'pattern',
  'allOf', 'anyOf', 'oneOf', 'if', 'then', 'else',
]);

export interface SchemaError {
  /** JSON pointer of the value, e.g. /counts/tlbi/by_op. */
  readonly path: string;
  readonly message: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Validator {
  private readonly schemas = new Map<string, Schema>();

  /** Registers a schema under its $id, for references from other schemas. */
  add(schema: Schema): this {
    if (typeof schema === 'boolean' || typeof schema['$id'] !== 'string') throw new Error('a registered schema needs an $id');
    this.schemas.set(schema['$id'], schema);
    return this;
  }

  /** Every way `value` breaks the schema registered as `id` (empty: it conforms). */
  validate(id: string, value: unknown): SchemaError[] {
    const root = this.schemas.get(id);
    if (root === undefined) throw new Error(`no schema registered as ${id}`);
    const errors: SchemaError[] = [];
    this.check(root, root, value, '', errors);
    return errors;
  }

  private resolve(ref: string, base: Schema): { schema: Schema; root: Schema } {
    const [file, pointer = ''] = ref.split('#');
    const root = file === '' || file === undefined ? base : this.schemas.get(file);
    if (root === undefined) throw new Error(`$ref ${ref}: no schema registered as ${file}`);
    let s: unknown = root;
    for (const part of pointer.split('/').filter((p) => p !== '')) {
      s = (s as Record<string, unknown> | undefined)?.[part];
    }
    if (s === undefined) throw new Error(`$ref ${ref}: nothing there`);
    return { schema: s as Schema, root };
  }

  private check(schema: Schema, root: Schema, v: unknown, path: string, errors: SchemaError[]): void {
    if (schema === true) return;
    if (schema === false) {
      errors.push({ path, message: 'no value is allowed here' });
      return;
    }
    for (const k of Object.keys(schema)) {
      if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema keyword '${k}' at ${path || '/'} is not supported by this validator`);
    }
    const s = schema as Record<string, unknown>;
    if (typeof s['$ref'] === 'string') {
      const r = this.resolve(s['$ref'], root);
      this.check(r.schema, r.root, v, path, errors);
    }
    if (s['type'] !== undefined) {
      const types = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
      if (!types.some((t) => hasType(v, t))) {
        errors.push({ path, message: `is ${typeOf(v)}, expected ${types.join(' or ')}` });
        return;
      }
    }
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => deepEqual(e, v))) errors.push({ path, message: `${JSON.stringify(v)} is not one of ${JSON.stringify(s['enum'])}` });
    if ('const' in s && !deepEqual(s['const'], v)) errors.push({ path, message: `${JSON.stringify(v)} is not ${JSON.stringify(s['const'])}` });
    if (typeof v === 'number' && typeof s['minimum'] === 'number' && v < s['minimum']) errors.push({ path, message: `${v} is below ${s['minimum']}` });
    if (typeof v === 'number' && typeof s['maximum'] === 'number' && v > s['maximum']) errors.push({ path, message: `${v} is above ${s['maximum']}` });
    if (typeof v === 'string' && typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(v)) errors.push({ path, message: `'${v}' does not match ${s['pattern']}` });
    if (Array.isArray(v)) {
      if (typeof s['minItems'] === 'number' && v.length < s['minItems']) errors.push({ path, message: `has ${v.length} items, at least ${s['minItems']} expected` });
      if (s['items'] !== undefined) v.forEach((item, i) => this.check(s['items'] as Schema, root, item, `${path}/${i}`, errors));
    }
    if (typeOf(v) === 'object') {
      const o = v as Record<string, unknown>;
      const props = (s['properties'] ?? {}) as Record<string, Schema>;
      for (const r of (s['required'] ?? []) as string[]) if (!(r in o)) errors.push({ path, message: `lacks the required property '${r}'` });
      for (const [k, val] of Object.entries(o)) {
        if (k in props) this.check(props[k]!, root, val, `${path}/${k}`, errors);
        else if (s['additionalProperties'] !== undefined) {
          if (s['additionalProperties'] === false) errors.push({ path: `${path}/${k}`, message: 'is not a known property' });
          else this.check(s['additionalProperties'] as Schema, root, val, `${path}/${k}`, errors);
        }
      }
    }
    const passes = (sub: Schema): boolean => {
      const e: SchemaError[] = [];
      this.check(sub, root, v, path, e);
      return e.length === 0;
    };
    if (Array.isArray(s['allOf'])) for (const sub of s['allOf'] as Schema[]) this.check(sub, root, v, path, errors);
    if (Array.isArray(s['anyOf']) && !(s['anyOf'] as Schema[]).some(passes)) errors.push({ path, message: 'matches none of anyOf' });
    if (Array.isArray(s['oneOf'])) {
      const n = (s['oneOf'] as Schema[]).filter(passes).length;
      if (n !== 1) errors.push({ path, message: `matches ${n} of oneOf, exactly one expected` });
    }
    if (s['if'] !== undefined) {
      const branch = passes(s['if'] as Schema) ? s['then'] : s['else'];
      if (branch !== undefined) this.check(branch as Schema, root, v, path, errors);
    }
  }
}
