import sys

from productsearch_client._cli import main

sys.exit(main())
