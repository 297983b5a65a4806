"""Python client for the product search service (商品图像检索): find catalog products by
example image or keyword over gRPC.

    from productsearch_client import Client

    with Client("127.0.0.1:50051", catalog="shop-a") as client:
        client.upsert_folder("photos/")
        for hit in client.search_by_text("运动鞋", top_k=5):
            print(hit.product_id, round(hit.score, 4), hit.title)

`productsearch_client.aio.AsyncClient` is the asyncio variant; `python -m productsearch_client`
is the command line.
"""

from productsearch_client._client import Client
from productsearch_client._errors import FieldViolation, ProductSearchError
from productsearch_client._types import (
    Catalog,
    DeleteSummary,
    Filter,
    FolderEntry,
    Hit,
    ImageHead,
    IndexInfo,
    ModelInfo,
    Product,
    ProductStatus,
    Projection,
    Stats,
    UpsertSummary,
    catalog_name,
    folder_entries,
    folder_products,
)

__version__ = "0.1.0"
__all__ = [
    "Catalog",
    "Client",
    "DeleteSummary",
    "FieldViolation",
    "Filter",
    "FolderEntry",
    "Hit",
    "ImageHead",
    "IndexInfo",
    "ModelInfo",
    "Product",
    "ProductSearchError",
    "ProductStatus",
    "Projection",
    "Stats",
    "UpsertSummary",
    "catalog_name",
    "folder_entries",
    "folder_products",
]
