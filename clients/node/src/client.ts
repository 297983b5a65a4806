// ProductSearchClient: a small promise-based client for productsearch.v1.ProductSearch.
import { readdir, readFile, stat } from "node:fs/promises";
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import type { ProtoGrpcType } from "../gen/product_search";
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

export interface ClientOptions {
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

export interface SearchOptions extends CallOptions {
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
}

export class ProductSearchClient {
  private readonly stub: Stub;
  private readonly metadata: grpc.Metadata;
  private readonly deadlineS: number;

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
  upsert(products: Iterable<Product> | AsyncIterable<Product>, options: CallOptions = {}): Promise<UpsertSummary> {
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
          const request: UpsertProductsRequest = { product };
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
   * upsertFolder upserts every .jpg/.jpeg/.png/.webp file of `folder` (not recursive, in
   * name order): id = file name without extension, title = `<stem>.txt` trimmed when present.
   */
  upsertFolder(folder: string, options: CallOptions = {}): Promise<UpsertSummary> {
    return this.upsert(folderProducts(folder), options);
  }

  /** searchByImage ranks products by visual similarity to `image` (bytes, or a file path). */
  async searchByImage(image: Uint8Array | string, options: SearchOptions = {}): Promise<Hit[]> {
    const bytes = typeof image === "string" ? await readFile(image) : image;
    return this.search((callback) =>
      this.stub.searchByImage(
        { image: bytes, options: searchOptions(options) },
        this.metadata.clone(),
        this.callOptions(options),
        callback,
      ),
    );
  }

  /** searchByText ranks products by a keyword or sentence (e.g. "运动鞋", "red sneakers"). */
  searchByText(text: string, options: SearchOptions = {}): Promise<Hit[]> {
    return this.search((callback) =>
      this.stub.searchByText(
        { text, options: searchOptions(options) },
        this.metadata.clone(),
        this.callOptions(options),
        callback,
      ),
    );
  }

  /** searchSimilar ranks products that look like catalog product `productId` (left out of the hits). */
  searchSimilar(productId: string, options: SearchOptions = {}): Promise<Hit[]> {
    return this.search((callback) =>
      this.stub.searchSimilar(
        { productId, options: searchOptions(options) },
        this.metadata.clone(),
        this.callOptions(options),
        callback,
      ),
    );
  }

  private callOptions(options: CallOptions): grpc.CallOptions {
    return { deadline: Date.now() + (options.deadlineS ?? this.deadlineS) * 1000 };
  }

  private search(start: (callback: grpc.requestCallback<SearchResponse__Output>) => void): Promise<Hit[]> {
    return new Promise((resolve, reject) => {
      start((error, response) => {
        if (error) {
          reject(new ProductSearchError(error));
        } else {
          resolve(response!.hits.map(toHit));
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

/** Orders names by their UTF-8 bytes, as Python's and Go's sorts of file names do. */
function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The products `upsertFolder` streams, read one at a time. */
export async function* folderProducts(folder: string): AsyncGenerator<Product> {
  const names = (await readdir(folder)).sort(byName);
  for (const name of names) {
    const extension = path.extname(name);
    if (!IMAGE_EXTENSIONS.includes(extension.toLowerCase())) {
      continue;
    }
    const file = path.join(folder, name);
    if (!(await stat(file)).isFile()) {
      continue;
    }
    const id = name.slice(0, -extension.length);
    yield { id, title: await readTitle(path.join(folder, `${id}.txt`)), category: "", image: await readFile(file) };
  }
}

async function readTitle(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR") {
      return ""; // no title file: the product has no title
    }
    throw error;
  }
}
