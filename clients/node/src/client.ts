// ProductSearchClient: a small promise-based client for productsearch.v1.ProductSearch.
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import type { ProtoGrpcType } from "../gen/product_search";
import type { Catalog__Output } from "../gen/productsearch/v1/Catalog";
import type { Filter } from "../gen/productsearch/v1/Filter";
import type { Product, Product__Output } from "../gen/productsearch/v1/Product";
import type { ProductSearchClient as Stub } from "../gen/productsearch/v1/ProductSearch";
import type { SearchHit__Output } from "../gen/productsearch/v1/SearchHit";
import type { SearchOptions as ProtoSearchOptions } from "../gen/productsearch/v1/SearchOptions";
import type { SearchResponse__Output } from "../gen/productsearch/v1/SearchResponse";
import type { UpsertProductsRequest } from "../gen/productsearch/v1/UpsertProductsRequest";
import type { UpsertProductsResponse__Output } from "../gen/productsearch/v1/UpsertProductsResponse";
import { type FieldViolation, fieldViolations } from "./rpc_status";

export type { Filter, FieldViolation, Product, Product__Output };

/** Where the client connects when no target is given (`PRODUCTSEARCH_TARGET` overrides it in the CLI). */
export const DEFAULT_TARGET = "127.0.0.1:50051";
/** Seconds every call may take unless the client or the call says otherwise. */
export const DEFAULT_DEADLINE_S = 10;
/** File extensions `upsertFolder` reads as product images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png", ".webp"];
/** The start of every catalog's resource name: `catalogs/shop-a`. */
export const CATALOG_PREFIX = "catalogs/";

// Built by build.sh next to the compiled code (dist/protos), so the client does not depend on
// the repository layout at run time. The options match proto-loader-gen-types' flags in
// build.sh, so the generated types under gen/ describe exactly what the loader returns.
const PROTO_DIR = path.resolve(__dirname, "..", "protos");
const LOADER_OPTIONS: protoLoader.Options = {
  includeDirs: [PROTO_DIR],
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};
// Search responses may carry up to 1,000 thumbnails; upserts carry photos of up to 20 MiB.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

let proto: ProtoGrpcType | undefined;

function loadProto(): ProtoGrpcType {
  proto ??= grpc.loadPackageDefinition(
    protoLoader.loadSync("productsearch/v1/product_search.proto", LOADER_OPTIONS),
  ) as unknown as ProtoGrpcType;
  return proto;
}

/** The canonical name of a gRPC / google.rpc status code, e.g. 3 → "INVALID_ARGUMENT". */
export function statusName(code: number): string {
  return grpc.status[code] ?? `CODE_${code}`;
}

/** ProductSearchError is how every failed call rejects: the gRPC status and what the server said. */
export class ProductSearchError extends Error {
  /** code is the gRPC status code (grpc.status). */
  readonly code: grpc.status;
  /** codeName is its canonical name, e.g. "INVALID_ARGUMENT", "DEADLINE_EXCEEDED". */
  readonly codeName: string;
  /** details is the server's (or grpc-js's) explanation. */
  readonly details: string;
  /** fieldViolations are the google.rpc.BadRequest details the server sends with INVALID_ARGUMENT. */
  readonly fieldViolations: readonly FieldViolation[];
  /** metadata holds the call's trailers. */
  readonly metadata: grpc.Metadata;

  constructor(error: grpc.ServiceError) {
    const codeName = statusName(error.code);
    super(`${codeName}: ${error.details}`, { cause: error });
    this.name = "ProductSearchError";
    this.code = error.code;
    this.codeName = codeName;
    this.details = error.details;
    this.metadata = error.metadata;
    this.fieldViolations = fieldViolations(error.metadata);
  }
}

/**
 * catalogName is the resource name of a catalog given by id (`shop-a`) or name
 * (`catalogs/shop-a`); "" stays "", which the server reads as `catalogs/default`.
 */
export function catalogName(catalog: string): string {
  return catalog === "" || catalog.startsWith(CATALOG_PREFIX) ? catalog : CATALOG_PREFIX + catalog;
}

export interface ClientOptions {
  /**
   * catalog is the catalog every call uses unless it names another: an id (`shop-a`) or a
   * name (`catalogs/shop-a`); "" (the default) is `catalogs/default`.
   */
  catalog?: string;
  /** apiKey is sent as `authorization: Bearer <apiKey>` with every call. */
  apiKey?: string;
  /** deadlineS is each call's deadline in seconds (default 10). */
  deadlineS?: number;
  /** credentials for TLS; plaintext (createInsecure) by default. */
  credentials?: grpc.ChannelCredentials;
  /** channelOptions are passed to grpc-js as they are. */
  channelOptions?: grpc.ChannelOptions;
}

export interface CallOptions {
  /** deadlineS overrides the client's deadline for this call. */
  deadlineS?: number;
}

export interface CatalogCallOptions extends CallOptions {
  /** catalog overrides the client's catalog for this call (an id or a name; "": the default). */
  catalog?: string;
}

export interface SearchOptions extends CatalogCallOptions {
  /** topK is the number of hits wanted: 1 to 1,000 (default 10). */
  topK?: number;
  /** filter restricts the hits by category, price range and attributes. */
  filter?: Filter;
  /** minScore drops hits scoring below it (cosine similarity). */
  minScore?: number;
  /** includeThumbnails fills `product.thumbnail` in the hits. */
  includeThumbnails?: boolean;
}

/** Hit is one ranked product. */
export interface Hit {
  productId: string;
  /** score ranks the hits, higher first: the best signal's cosine similarity. */
  score: number;
  title: string;
  category: string;
  /** signals maps each matching signal ("image", "title") to its cosine similarity. */
  signals: Record<string, number>;
  /** product as the server returned it (a thumbnail only when asked for). */
  product: Product__Output;
}

/** ProductStatus is the outcome for one upserted product. */
export interface ProductStatus {
  id: string;
  code: number;
  /** codeName is "OK" when committed, else e.g. "INVALID_ARGUMENT" or "UNAVAILABLE". */
  codeName: string;
  message: string;
}

/** UpsertSummary is the server's answer to one upsert stream. */
export interface UpsertSummary {
  upserted: number;
  failed: number;
  /** statuses has one entry per product, in stream order. */
  statuses: ProductStatus[];
  /** failures are the statuses that are not OK. */
  failures: ProductStatus[];
  /** truncated: the server stopped reading after 10,000 products; send the rest again. */
  truncated: boolean;
}

/** Catalog is a named, isolated collection of products. */
export interface Catalog {
  /** name is the resource name, `catalogs/{id}`. */
  name: string;
  /** id is the last part of the name, e.g. "shop-a". */
  id: string;
  displayName: string;
  description: string;
  /** createTime is when the catalog was created. */
  createTime: Date;
  /** productCount is the number of products in it. */
  productCount: number;
}

export interface CreateCatalogOptions extends CallOptions {
  /** displayName is a human-readable name, at most 200 characters. */
  displayName?: string;
  /** description says what the catalog holds, at most 1,000 characters. */
  description?: string;
}

export interface DeleteCatalogOptions extends CallOptions {
  /** force deletes a catalog that still has products, with them. */
  force?: boolean;
}

export class ProductSearchClient {
  private readonly stub: Stub;
  private readonly metadata: grpc.Metadata;
  private readonly deadlineS: number;
  /** catalog is the resource name every call uses unless it names another ("": the default). */
  readonly catalog: string;

  constructor(target: string = DEFAULT_TARGET, options: ClientOptions = {}) {
    const { ProductSearch } = loadProto().productsearch.v1;
    this.stub = new ProductSearch(target, options.credentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      ...options.channelOptions,
    });
    this.metadata = new grpc.Metadata();
    if (options.apiKey) {
      this.metadata.set("authorization", `Bearer ${options.apiKey}`);
    }
    this.deadlineS = options.deadlineS ?? DEFAULT_DEADLINE_S;
    this.catalog = catalogName(options.catalog ?? "");
  }

  /** close releases the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.stub.close();
  }

  /**
   * upsert streams products to the server (each is created or replaced by id) and resolves
   * with one status per product. The deadline covers the whole stream. Products are pulled
   * from the iterable as the stream drains, so a large catalog is never all in memory.
   */
  upsert(
    products: Iterable<Product> | AsyncIterable<Product>,
    options: CatalogCallOptions = {},
  ): Promise<UpsertSummary> {
    const catalog = this.catalogOf(options);
    return new Promise((resolve, reject) => {
      let finished = false;
      let localError: unknown;
      const call = this.stub.upsertProducts(
        this.metadata.clone(),
        this.callOptions(options),
        (error, response?: UpsertProductsResponse__Output) => {
          finished = true;
          if (localError !== undefined) {
            reject(localError);
          } else if (error) {
            reject(new ProductSearchError(error));
          } else {
            resolve(summarise(response!));
          }
        },
      );
      const writeAll = async (): Promise<void> => {
        for await (const product of products) {
          if (finished) {
            return; // the server has answered already (an error): stop reading products
          }
          // Every message names the catalog: the server takes the first one's and rejects a
          // stream that switches.
          const request: UpsertProductsRequest = { product, catalog };
          if (!call.write(request)) {
            await drainedOrFinished(call);
          }
        }
      };
      writeAll().then(
        () => call.end(),
        (error: unknown) => {
          localError = error;
          call.cancel();
        },
      );
    });
  }

  /**
   * upsertFolder upserts the product images under `folder` by the folder rule every client
   * shares (see `folderEntries`): any depth, id = relative path without extension,
   * category = the image's folder, title = `<stem>.txt`.
   */
  upsertFolder(folder: string, options: CatalogCallOptions = {}): Promise<UpsertSummary> {
    return this.upsert(folderProducts(folder), options);
  }

  /** searchByImage ranks products by visual similarity to `image` (bytes, or a file path). */
  async searchByImage(image: Uint8Array | string, options: SearchOptions = {}): Promise<Hit[]> {
    const bytes = typeof image === "string" ? await readFile(image) : image;
    const request = { image: bytes, options: searchOptions(options), catalog: this.catalogOf(options) };
    const response = await this.call<SearchResponse__Output>((callback) =>
      this.stub.searchByImage(request, this.metadata.clone(), this.callOptions(options), callback),
    );
    return response.hits.map(toHit);
  }

  /** searchByText ranks products by a keyword or sentence (e.g. "运动鞋", "red sneakers"). */
  async searchByText(text: string, options: SearchOptions = {}): Promise<Hit[]> {
    const request = { text, options: searchOptions(options), catalog: this.catalogOf(options) };
    const response = await this.call<SearchResponse__Output>((callback) =>
      this.stub.searchByText(request, this.metadata.clone(), this.callOptions(options), callback),
    );
    return response.hits.map(toHit);
  }

  /** searchSimilar ranks products that look like catalog product `productId` (left out of the hits). */
  async searchSimilar(productId: string, options: SearchOptions = {}): Promise<Hit[]> {
    const request = { productId, options: searchOptions(options), catalog: this.catalogOf(options) };
    const response = await this.call<SearchResponse__Output>((callback) =>
      this.stub.searchSimilar(request, this.metadata.clone(), this.callOptions(options), callback),
    );
    return response.hits.map(toHit);
  }

  /**
   * createCatalog (admin) creates the empty catalog `catalogId` ("shop-a": 1 to 63 of a-z,
   * 0-9 and "-", starting with a letter); ALREADY_EXISTS when the id is taken.
   */
  async createCatalog(catalogId: string, options: CreateCatalogOptions = {}): Promise<Catalog> {
    const request = {
      catalogId: catalogId.startsWith(CATALOG_PREFIX) ? catalogId.slice(CATALOG_PREFIX.length) : catalogId,
      catalog: { displayName: options.displayName ?? "", description: options.description ?? "" },
    };
    const response = await this.call<{ catalog: Catalog__Output | null }>((callback) =>
      this.stub.createCatalog(request, this.metadata.clone(), this.callOptions(options), callback),
    );
    return toCatalog(response.catalog!);
  }

  /** getCatalog describes one catalog (an id or a name; the client's when not given). */
  async getCatalog(catalog?: string, options: CallOptions = {}): Promise<Catalog> {
    const name = catalogName(catalog ?? this.catalog) || `${CATALOG_PREFIX}default`;
    const response = await this.call<{ catalog: Catalog__Output | null }>((callback) =>
      this.stub.getCatalog({ name }, this.metadata.clone(), this.callOptions(options), callback),
    );
    return toCatalog(response.catalog!);
  }

  /** listCatalogs resolves with every catalog the API key may use, in id order (all pages). */
  async listCatalogs(options: CallOptions = {}): Promise<Catalog[]> {
    const catalogs: Catalog[] = [];
    let pageToken = "";
    do {
      const page = await this.call<{ catalogs: Catalog__Output[]; nextPageToken: string }>((callback) =>
        this.stub.listCatalogs({ pageToken }, this.metadata.clone(), this.callOptions(options), callback),
      );
      catalogs.push(...page.catalogs.map(toCatalog));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return catalogs;
  }

  /**
   * deleteCatalog (admin) removes a catalog (an id or a name) with its products, vectors and
   * models. Without `force` only an empty one (FAILED_PRECONDITION otherwise); never the
   * default catalog.
   */
  async deleteCatalog(catalog: string, options: DeleteCatalogOptions = {}): Promise<void> {
    const request = { name: catalogName(catalog), force: options.force ?? false };
    await this.call((callback) =>
      this.stub.deleteCatalog(request, this.metadata.clone(), this.callOptions(options), callback),
    );
  }

  private catalogOf(options: CatalogCallOptions): string {
    return options.catalog === undefined ? this.catalog : catalogName(options.catalog);
  }

  private callOptions(options: CallOptions): grpc.CallOptions {
    return { deadline: Date.now() + (options.deadlineS ?? this.deadlineS) * 1000 };
  }

  /** Starts a unary call and settles with its response, or rejects with ProductSearchError. */
  private call<Response>(start: (callback: grpc.requestCallback<Response>) => void): Promise<Response> {
    return new Promise((resolve, reject) => {
      start((error, response) => {
        if (error) {
          reject(new ProductSearchError(error));
        } else {
          resolve(response!);
        }
      });
    });
  }
}

function searchOptions(options: SearchOptions): ProtoSearchOptions {
  return {
    topK: options.topK ?? 10,
    filter: options.filter ?? null,
    minScore: options.minScore ?? 0,
    includeThumbnails: options.includeThumbnails ?? false,
  };
}

function toHit(hit: SearchHit__Output): Hit {
  const product = hit.product!;
  return {
    productId: product.id,
    score: hit.score,
    title: product.title,
    category: product.category,
    signals: Object.fromEntries(hit.signals.map((signal) => [signal.signal, signal.score])),
    product,
  };
}

function summarise(response: UpsertProductsResponse__Output): UpsertSummary {
  const statuses = response.statuses.map(({ id, code, message }) => ({
    id,
    code,
    codeName: statusName(code),
    message,
  }));
  return {
    upserted: response.upserted,
    failed: response.failed,
    statuses,
    failures: statuses.filter((status) => status.code !== grpc.status.OK),
    truncated: response.truncated,
  };
}

function toCatalog(catalog: Catalog__Output): Catalog {
  return {
    name: catalog.name,
    id: catalog.name.startsWith(CATALOG_PREFIX) ? catalog.name.slice(CATALOG_PREFIX.length) : catalog.name,
    displayName: catalog.displayName,
    description: catalog.description,
    createTime: new Date(catalog.createTime * 1000),
    productCount: Number(catalog.productCount),
  };
}

/** Resolves when the stream can take more messages or the call has ended. */
function drainedOrFinished(call: grpc.ClientWritableStream<UpsertProductsRequest>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off("drain", done);
      call.off("status", done);
      resolve();
    };
    call.on("drain", done);
    call.on("status", done);
  });
}

/** FolderEntry is one product image of a folder, as `folderEntries` finds it. */
export interface FolderEntry {
  /** id is the path relative to the folder without the extension, "/" between folders. */
  id: string;
  /** path is the image file. */
  path: string;
  /** category is the name of the folder the image is in; "" directly in the folder. */
  category: string;
  /** title is the trimmed UTF-8 text of `<stem>.txt` beside the image, or "". */
  title: string;
}

/** Orders strings by their UTF-8 bytes (JS strings compare by UTF-16 code units). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * folderEntries lists the product images of `folder` by the rule every client shares with
 * the server's `productsearch index --folder`: every regular .jpg/.jpeg/.png/.webp file (any
 * case) at any depth; names starting with "." are skipped, links to files are followed,
 * links to folders are not descended. Sorted by id in UTF-8 byte order; images with the same
 * id (x.jpg and x.png) in name order, so the later one wins.
 */
export async function folderEntries(folder: string): Promise<FolderEntry[]> {
  if (!(await stat(folder)).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a folder: ${folder}`), { code: "ENOTDIR" });
  }
  const entries: FolderEntry[] = [];
  await walk(folder, "", entries);
  return entries.sort((a, b) => byUtf8(a.id, b.id) || byUtf8(path.basename(a.path), path.basename(b.path)));
}

async function walk(directory: string, relative: string, entries: FolderEntry[]): Promise<void> {
  const category = relative === "" ? "" : path.posix.basename(relative);
  for (const name of await readdir(directory)) {
    if (name.startsWith(".")) {
      continue;
    }
    const file = path.join(directory, name);
    const inner = relative === "" ? name : `${relative}/${name}`;
    if ((await lstat(file)).isDirectory()) {
      await walk(file, inner, entries); // lstat: a link to a folder is not a folder here
      continue;
    }
    const extension = path.extname(name);
    if (!IMAGE_EXTENSIONS.includes(extension.toLowerCase()) || !(await isRegularFile(file))) {
      continue;
    }
    const stem = name.slice(0, -extension.length);
    entries.push({
      id: inner.slice(0, -extension.length),
      path: file,
      category,
      title: await readTitle(path.join(directory, `${stem}.txt`)),
    });
  }
}

/** Whether `file` is a regular file once links are followed (false when it is dangling). */
async function isRegularFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The products `upsertFolder` streams, images read one at a time. */
export async function* folderProducts(folder: string): AsyncGenerator<Product> {
  for (const entry of await folderEntries(folder)) {
    yield { id: entry.id, title: entry.title, category: entry.category, image: await readFile(entry.path) };
  }
}

// The characters Python's str.strip() removes (the server's folder rule is Python); JS's
// trim() differs: it keeps U+001C..U+001F and removes U+FEFF.
const PYTHON_SPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
const PYTHON_STRIP = new RegExp(`^[${PYTHON_SPACE}]+|[${PYTHON_SPACE}]+$`, "g");
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The title in a `<stem>.txt` file as the server's Python reads it: UTF-8 (a BOM is kept),
 * "\r\n" and "\r" as "\n" (text mode), trimmed like str.strip(); "" when it is not a file.
 */
async function readTitle(file: string): Promise<string> {
  if (!(await isRegularFile(file))) {
    return ""; // no title file: the product has no title
  }
  let text: string;
  try {
    text = UTF8.decode(await readFile(file));
  } catch (error) {
    if (error instanceof TypeError) {
      throw Object.assign(new Error(`EILSEQ: not UTF-8 text: ${file}`), { code: "EILSEQ" });
    }
    throw error;
  }
  return text.replace(/\r\n?/g, "\n").replace(PYTHON_STRIP, "");
}
