// Original file: ../../protos/productsearch/v1/product_search.proto

import type { Product as _productsearch_v1_Product, Product__Output as _productsearch_v1_Product__Output } from '../../productsearch/v1/Product';

/**
 * ExplainMatchResponse is the heatmap of one product for one query. The heat of a cell is
 * the cosine similarity of the query's embedding with that cell of the image model's last
 * convolutional feature map, computed on the product's stored image (VGG16: block5_conv3,
 * 14 x 14 cells of 512 channels; EfficientNet-Lite0: 7 x 7 x 1280; Lite2: 9 x 9 x 1280).
 * The catalog's image index holds that model's own embeddings (the global average of this
 * map), so query and cells are in one space. The grid covers the whole image: the models
 * stretch it onto their square input.
 */
export interface ExplainMatchResponse {
  /**
   * product explained (no image bytes, no thumbnail).
   */
  'product'?: (_productsearch_v1_Product | null);
  /**
   * score is the cosine similarity of the query's embedding with the product's indexed image
   * embedding, -1 to 1: the "image" signal a search gives it. (The map is computed on the
   * stored image, a JPEG of at most 512 px, whose own embedding may differ a little.)
   */
  'score'?: (number | string);
  /**
   * grid_height is the number of rows of `grid` (e.g. 14 for VGG16).
   */
  'gridHeight'?: (number);
  /**
   * grid_width is the number of columns of `grid`.
   */
  'gridWidth'?: (number);
  /**
   * grid holds grid_height x grid_width cosines, -1 to 1, row by row from the image's top
   * left: the raw heat, before upsampling.
   */
  'grid'?: (number | string)[];
  /**
   * heatmap_png is the product's stored image (at most 512 px per side) with the heat
   * drawn over it as a PNG: the grid upsampled bilinearly between cell centres to the
   * image's size, its part above its own median scaled to 0..1, drawn blue (cold) to red
   * (hot) with opacity 0.6 x heat, so cold regions show the photo unchanged.
   */
  'heatmapPng'?: (Buffer | Uint8Array | string);
  /**
   * image_width of `heatmap_png`, in pixels.
   */
  'imageWidth'?: (number);
  /**
   * image_height of `heatmap_png`, in pixels.
   */
  'imageHeight'?: (number);
  /**
   * model is the image model whose feature map was used (e.g. "efficientnet_lite0").
   */
  'model'?: (string);
  /**
   * query_space says how the query was embedded: "image" (its own image embedding, or the
   * indexed one of `query_product_id`) or "text_to_image" (the text embedding through the
   * catalog's projection).
   */
  'querySpace'?: (string);
}

/**
 * ExplainMatchResponse is the heatmap of one product for one query. The heat of a cell is
 * the cosine similarity of the query's embedding with that cell of the image model's last
 * convolutional feature map, computed on the product's stored image (VGG16: block5_conv3,
 * 14 x 14 cells of 512 channels; EfficientNet-Lite0: 7 x 7 x 1280; Lite2: 9 x 9 x 1280).
 * The catalog's image index holds that model's own embeddings (the global average of this
 * map), so query and cells are in one space. The grid covers the whole image: the models
 * stretch it onto their square input.
 */
export interface ExplainMatchResponse__Output {
  /**
   * product explained (no image bytes, no thumbnail).
   */
  'product': (_productsearch_v1_Product__Output | null);
  /**
   * score is the cosine similarity of the query's embedding with the product's indexed image
   * embedding, -1 to 1: the "image" signal a search gives it. (The map is computed on the
   * stored image, a JPEG of at most 512 px, whose own embedding may differ a little.)
   */
  'score': (number);
  /**
   * grid_height is the number of rows of `grid` (e.g. 14 for VGG16).
   */
  'gridHeight': (number);
  /**
   * grid_width is the number of columns of `grid`.
   */
  'gridWidth': (number);
  /**
   * grid holds grid_height x grid_width cosines, -1 to 1, row by row from the image's top
   * left: the raw heat, before upsampling.
   */
  'grid': (number)[];
  /**
   * heatmap_png is the product's stored image (at most 512 px per side) with the heat
   * drawn over it as a PNG: the grid upsampled bilinearly between cell centres to the
   * image's size, its part above its own median scaled to 0..1, drawn blue (cold) to red
   * (hot) with opacity 0.6 x heat, so cold regions show the photo unchanged.
   */
  'heatmapPng': (Buffer);
  /**
   * image_width of `heatmap_png`, in pixels.
   */
  'imageWidth': (number);
  /**
   * image_height of `heatmap_png`, in pixels.
   */
  'imageHeight': (number);
  /**
   * model is the image model whose feature map was used (e.g. "efficientnet_lite0").
   */
  'model': (string);
  /**
   * query_space says how the query was embedded: "image" (its own image embedding, or the
   * indexed one of `query_product_id`) or "text_to_image" (the text embedding through the
   * catalog's projection).
   */
  'querySpace': (string);
}
