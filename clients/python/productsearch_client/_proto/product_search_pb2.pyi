from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Catalog(_message.Message):
    __slots__ = ("name", "display_name", "description", "create_time", "product_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    create_time: float
    product_count: int
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[float] = ..., product_count: _Optional[int] = ...) -> None: ...

class CreateCatalogRequest(_message.Message):
    __slots__ = ("catalog_id", "catalog")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    catalog: Catalog
    def __init__(self, catalog_id: _Optional[str] = ..., catalog: _Optional[_Union[Catalog, _Mapping]] = ...) -> None: ...

class CreateCatalogResponse(_message.Message):
    __slots__ = ("catalog",)
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    catalog: Catalog
    def __init__(self, catalog: _Optional[_Union[Catalog, _Mapping]] = ...) -> None: ...

class GetCatalogRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCatalogResponse(_message.Message):
    __slots__ = ("catalog",)
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    catalog: Catalog
    def __init__(self, catalog: _Optional[_Union[Catalog, _Mapping]] = ...) -> None: ...

class ListCatalogsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCatalogsResponse(_message.Message):
    __slots__ = ("catalogs", "next_page_token")
    CATALOGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    catalogs: _containers.RepeatedCompositeFieldContainer[Catalog]
    next_page_token: str
    def __init__(self, catalogs: _Optional[_Iterable[_Union[Catalog, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteCatalogRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteCatalogResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Product(_message.Message):
    __slots__ = ("id", "title", "category", "price", "attributes", "image", "image_uri", "thumbnail", "update_time")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URI_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    category: str
    price: float
    attributes: _containers.ScalarMap[str, str]
    image: bytes
    image_uri: str
    thumbnail: bytes
    update_time: float
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., category: _Optional[str] = ..., price: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ..., image: _Optional[bytes] = ..., image_uri: _Optional[str] = ..., thumbnail: _Optional[bytes] = ..., update_time: _Optional[float] = ...) -> None: ...

class UpsertProductsRequest(_message.Message):
    __slots__ = ("product", "catalog")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    product: Product
    catalog: str
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., catalog: _Optional[str] = ...) -> None: ...

class ProductStatus(_message.Message):
    __slots__ = ("id", "code", "message", "position")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: int
    message: str
    position: int
    def __init__(self, id: _Optional[str] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...

class UpsertProductsResponse(_message.Message):
    __slots__ = ("statuses", "upserted", "failed", "truncated")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[ProductStatus]
    upserted: int
    failed: int
    truncated: bool
    def __init__(self, statuses: _Optional[_Iterable[_Union[ProductStatus, _Mapping]]] = ..., upserted: _Optional[int] = ..., failed: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("id", "catalog")
    ID_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    id: str
    catalog: str
    def __init__(self, id: _Optional[str] = ..., catalog: _Optional[str] = ...) -> None: ...

class GetProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "catalog")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: Filter
    catalog: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., catalog: _Optional[str] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteProductsRequest(_message.Message):
    __slots__ = ("ids", "catalog")
    IDS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    catalog: str
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., catalog: _Optional[str] = ...) -> None: ...

class DeleteProductsResponse(_message.Message):
    __slots__ = ("deleted", "not_found")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    not_found: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted: _Optional[int] = ..., not_found: _Optional[_Iterable[str]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("categories", "min_price", "max_price", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    MIN_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    min_price: float
    max_price: float
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, categories: _Optional[_Iterable[str]] = ..., min_price: _Optional[float] = ..., max_price: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SearchOptions(_message.Message):
    __slots__ = ("top_k", "filter", "min_score", "include_thumbnails")
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_THUMBNAILS_FIELD_NUMBER: _ClassVar[int]
    top_k: int
    filter: Filter
    min_score: float
    include_thumbnails: bool
    def __init__(self, top_k: _Optional[int] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., min_score: _Optional[float] = ..., include_thumbnails: _Optional[bool] = ...) -> None: ...

class SearchByImageRequest(_message.Message):
    __slots__ = ("image", "options", "catalog")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    options: SearchOptions
    catalog: str
    def __init__(self, image: _Optional[bytes] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ..., catalog: _Optional[str] = ...) -> None: ...

class SearchByTextRequest(_message.Message):
    __slots__ = ("text", "options", "catalog")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    text: str
    options: SearchOptions
    catalog: str
    def __init__(self, text: _Optional[str] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ..., catalog: _Optional[str] = ...) -> None: ...

class SearchSimilarRequest(_message.Message):
    __slots__ = ("product_id", "options", "catalog")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    options: SearchOptions
    catalog: str
    def __init__(self, product_id: _Optional[str] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ..., catalog: _Optional[str] = ...) -> None: ...

class FindDuplicatesRequest(_message.Message):
    __slots__ = ("image", "threshold", "max_results", "catalog")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    threshold: float
    max_results: int
    catalog: str
    def __init__(self, image: _Optional[bytes] = ..., threshold: _Optional[float] = ..., max_results: _Optional[int] = ..., catalog: _Optional[str] = ...) -> None: ...

class TrainProjectionRequest(_message.Message):
    __slots__ = ("method", "catalog")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    method: str
    catalog: str
    def __init__(self, method: _Optional[str] = ..., catalog: _Optional[str] = ...) -> None: ...

class TrainProjectionResponse(_message.Message):
    __slots__ = ("version", "pairs", "method", "seconds", "epochs", "model", "span_pairs", "category_pairs")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SPAN_PAIRS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_PAIRS_FIELD_NUMBER: _ClassVar[int]
    version: int
    pairs: int
    method: str
    seconds: float
    epochs: int
    model: str
    span_pairs: int
    category_pairs: int
    def __init__(self, version: _Optional[int] = ..., pairs: _Optional[int] = ..., method: _Optional[str] = ..., seconds: _Optional[float] = ..., epochs: _Optional[int] = ..., model: _Optional[str] = ..., span_pairs: _Optional[int] = ..., category_pairs: _Optional[int] = ...) -> None: ...

class TrainImageHeadRequest(_message.Message):
    __slots__ = ("catalog",)
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    catalog: str
    def __init__(self, catalog: _Optional[str] = ...) -> None: ...

class TrainImageHeadResponse(_message.Message):
    __slots__ = ("version", "model", "products", "categories", "held_out", "epochs", "seconds", "precision_at_10_before", "precision_at_10_after")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PRECISION_AT_10_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_AT_10_AFTER_FIELD_NUMBER: _ClassVar[int]
    version: int
    model: str
    products: int
    categories: int
    held_out: int
    epochs: int
    seconds: float
    precision_at_10_before: float
    precision_at_10_after: float
    def __init__(self, version: _Optional[int] = ..., model: _Optional[str] = ..., products: _Optional[int] = ..., categories: _Optional[int] = ..., held_out: _Optional[int] = ..., epochs: _Optional[int] = ..., seconds: _Optional[float] = ..., precision_at_10_before: _Optional[float] = ..., precision_at_10_after: _Optional[float] = ...) -> None: ...

class SignalScore(_message.Message):
    __slots__ = ("signal", "score")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    signal: str
    score: float
    def __init__(self, signal: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("product", "score", "signals")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    product: Product
    score: float
    signals: _containers.RepeatedCompositeFieldContainer[SignalScore]
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., score: _Optional[float] = ..., signals: _Optional[_Iterable[_Union[SignalScore, _Mapping]]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "embedding_ms", "index_ms")
    HITS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MS_FIELD_NUMBER: _ClassVar[int]
    INDEX_MS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    embedding_ms: float
    index_ms: float
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., embedding_ms: _Optional[float] = ..., index_ms: _Optional[float] = ...) -> None: ...

class ExplainMatchRequest(_message.Message):
    __slots__ = ("image", "text", "query_product_id", "product_id", "catalog")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    QUERY_PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    text: str
    query_product_id: str
    product_id: str
    catalog: str
    def __init__(self, image: _Optional[bytes] = ..., text: _Optional[str] = ..., query_product_id: _Optional[str] = ..., product_id: _Optional[str] = ..., catalog: _Optional[str] = ...) -> None: ...

class ExplainMatchResponse(_message.Message):
    __slots__ = ("product", "score", "grid_height", "grid_width", "grid", "heatmap_png", "image_width", "image_height", "model", "query_space")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    GRID_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    GRID_WIDTH_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    HEATMAP_PNG_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    QUERY_SPACE_FIELD_NUMBER: _ClassVar[int]
    product: Product
    score: float
    grid_height: int
    grid_width: int
    grid: _containers.RepeatedScalarFieldContainer[float]
    heatmap_png: bytes
    image_width: int
    image_height: int
    model: str
    query_space: str
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., score: _Optional[float] = ..., grid_height: _Optional[int] = ..., grid_width: _Optional[int] = ..., grid: _Optional[_Iterable[float]] = ..., heatmap_png: _Optional[bytes] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ..., model: _Optional[str] = ..., query_space: _Optional[str] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("catalog",)
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    catalog: str
    def __init__(self, catalog: _Optional[str] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "dimension")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    dimension: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., dimension: _Optional[int] = ...) -> None: ...

class IndexInfo(_message.Message):
    __slots__ = ("space", "model", "count", "model_version", "dimension", "engine", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SPACE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    space: str
    model: str
    count: int
    model_version: str
    dimension: int
    engine: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, space: _Optional[str] = ..., model: _Optional[str] = ..., count: _Optional[int] = ..., model_version: _Optional[str] = ..., dimension: _Optional[int] = ..., engine: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("product_count", "models", "indexes", "catalog")
    PRODUCT_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    product_count: int
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    indexes: _containers.RepeatedCompositeFieldContainer[IndexInfo]
    catalog: Catalog
    def __init__(self, product_count: _Optional[int] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., indexes: _Optional[_Iterable[_Union[IndexInfo, _Mapping]]] = ..., catalog: _Optional[_Union[Catalog, _Mapping]] = ...) -> None: ...
