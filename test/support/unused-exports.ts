/**
 * Exports of the workspace packages' entry points (package.json `exports`, their `source` files) that no
 * other package imports: an entry exports what other packages use, nothing more (DESIGN's
 * "What the code as it stands teaches"). A package's own tests and benchmarks import what only they use
 * from its modules directly. An export a JSDoc `@public` tag precedes stays (a type that exported types
 * name, so that declarations can be emitted). Run as `pnpm lint:exports` (part of `pnpm lint`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

interface Entry {
  readonly pkg: string;
  /** The specifier other packages import it by: the package name, or name/subpath. */
  readonly specifier: string;
  readonly file: string;
}

const SKIP = new Set(['node_modules', 'dist', '.git']);

/**
 * Entries not held to the rule, and why. Users outside the workspace: the client SDK, the CLI, the
 * notifier's webhook verification for receivers, the bus contract suite for adapters. Services: their
 * entries are the pieces the all-in-one process composes, and trimming them waits for the resolver's and
 * notifier's surfaces under change; service-kit likewise (its error constants and consumer-lag module).
 */
export const UNCHECKED: ReadonlyMap<string, string> = new Map([
  ['@concord/client', 'the client SDK, for applications'],
  ['@concord/client/node', 'the client SDK, for applications'],
  ['@concord/cli', 'a command-line tool'],
  ['@concord/bus/testing', 'the bus contract suite, for adapters'],
  ['@concord/notifier/verify', 'webhook verification, for receivers'],
  ['@concord/service-kit', 'under change (error registry, consumer lag)'],
  ['@concord/ingest', 'a service: what the all-in-one composes'],
  ['@concord/resolver', 'a service: what the all-in-one composes'],
  ['@concord/projector', 'a service: what the all-in-one composes'],
  ['@concord/notifier', 'a service: what the all-in-one composes'],
  ['@concord/all-in-one', 'a service'],
]);

const sourceFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((name) => {
        if (SKIP.has(name)) return [];
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return sourceFiles(path);
        return /\.(ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
      })
    : [];

const packageDirs = (root: string): string[] =>
  ['packages', 'services'].flatMap((dir) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .map((name) => join(root, dir, name))
          .filter((path) => existsSync(join(path, 'package.json')))
      : [],
  );

const entriesOf = (dir: string): Entry[] => {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    exports?: Record<string, string | { source?: string }>;
  };
  return Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]) => {
    const source = typeof target === 'string' ? target : target.source;
    if (source === undefined || !source.endsWith('.ts')) return [];
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    return [{ pkg: dir, specifier, file: join(dir, source) }];
  });
};

const parse = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);

const isPublic = (node: ts.Node): boolean =>
  ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'public') ||
  /@public\b/.test(node.getFullText().slice(0, node.getLeadingTriviaWidth()));

/** The names an entry file exports, but those marked `@public`. */
const exportedNames = (file: string): string[] => {
  const names: string[] = [];
  for (const statement of parse(file).statements) {
    if (isPublic(statement)) continue;
    if (ts.isExportDeclaration(statement)) {
      if (statement.exportClause === undefined)
        throw new Error(`${file}: export * hides what an entry exports`);
      if (ts.isNamedExports(statement.exportClause)) {
        names.push(...statement.exportClause.elements.map((element) => element.name.text));
      }
      continue;
    }
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (!modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name)) names.push(declaration.name.text);
      }
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name !== undefined
    ) {
      names.push(statement.name.text);
    }
  }
  return names;
};

/** specifier → name → the packages (or, outside them, files) importing it; `*` for a namespace import. */
const importsFrom = (files: readonly string[], ownDir: (file: string) => string | undefined) => {
  const used = new Map<string, Map<string, Set<string>>>();
  const note = (specifier: string, name: string, importer: string) => {
    const byName = used.get(specifier) ?? new Map<string, Set<string>>();
    used.set(specifier, byName);
    const importers = byName.get(name) ?? new Set<string>();
    byName.set(name, importers);
    importers.add(ownDir(importer) ?? importer);
  };
  for (const file of files) {
    const visit = (node: ts.Node): void => {
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier !== undefined &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        const specifier = node.moduleSpecifier.text;
        const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
        if (bindings !== undefined && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings))) {
          for (const element of bindings.elements) {
            note(specifier, (element.propertyName ?? element.name).text, file);
          }
        } else {
          note(specifier, '*', file);
        }
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] !== undefined &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        const specifier = node.arguments[0].text;
        // `const { a, b } = await import('x')` uses a and b; any other dynamic import, everything.
        const declaration = ts.isAwaitExpression(node.parent) ? node.parent.parent : undefined;
        if (
          declaration !== undefined &&
          ts.isVariableDeclaration(declaration) &&
          ts.isObjectBindingPattern(declaration.name)
        ) {
          for (const element of declaration.name.elements) {
            const name = element.propertyName ?? element.name;
            note(specifier, ts.isIdentifier(name) ? name.text : '*', file);
          }
        } else {
          note(specifier, '*', file);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(parse(file));
  }
  return used;
};

/** Entry → its exports that no other package imports (entries in `unchecked` left out). */
export const unusedExports = (
  root: string,
  unchecked: ReadonlyMap<string, string> = UNCHECKED,
): Map<string, string[]> => {
  const dirs = packageDirs(root);
  const ownDir = (file: string) => dirs.find((dir) => file.startsWith(`${dir}/`));
  const files = [...dirs.flatMap(sourceFiles), ...sourceFiles(join(root, 'test'))];
  const used = importsFrom(files, ownDir);
  const unused = new Map<string, string[]>();
  for (const entry of dirs.flatMap(entriesOf)) {
    if (unchecked.has(entry.specifier)) continue;
    const byName = used.get(entry.specifier);
    const byOthers = (name: string) =>
      [...(byName?.get(name) ?? []), ...(byName?.get('*') ?? [])].some((importer) => importer !== entry.pkg);
    const names = exportedNames(entry.file).filter((name) => !byOthers(name));
    if (names.length > 0) unused.set(relative(root, entry.file), names);
  }
  return unused;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const unused = unusedExports(root);
  for (const [file, names] of unused) {
    process.stderr.write(`${file}: exported, imported by no other package: ${names.join(', ')}\n`);
  }
  if (unused.size > 0) process.exitCode = 1;
}
