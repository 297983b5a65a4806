package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
)

// Categories of Fashion-MNIST, in label order, in English and Chinese.
var (
	categoriesEN = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	categoriesZH = []string{"T恤", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "包", "短靴"}
)

// keywords are the SearchByText queries: what shoppers type, in Chinese and English.
var keywords = []string{
	"运动鞋", "连衣裙", "包", "短靴", "凉鞋", "T恤", "外套", "裤子", "衬衫", "套头衫",
	"红色运动鞋", "黑色短靴", "夏季连衣裙", "女士手提包",
	"sneakers", "dress", "bag", "ankle boot", "sandal", "t-shirt", "coat", "trousers", "shirt", "pullover",
	"red sneakers", "black leather ankle boots", "summer dress", "handbag for women",
}

// fashionImages holds real product photos (Fashion-MNIST, 28x28 grey) encoded as PNG.
type fashionImages struct {
	pngs   [][]byte
	labels []int
}

// loadFashionMNIST reads the first n images of a split ("t10k" or "train") from Debian's
// dataset-fashion-mnist and encodes them as PNG, as a shop would upload them.
func loadFashionMNIST(dir, split string, n int) (*fashionImages, error) {
	pixels, err := readIDX(filepath.Join(dir, split+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install dataset-fashion-mnist)", err)
	}
	labels, err := readIDX(filepath.Join(dir, split+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	const side = 28
	if count := len(pixels) / (side * side); n > count {
		n = count
	}
	out := &fashionImages{}
	for i := 0; i < n; i++ {
		img := image.NewGray(image.Rect(0, 0, side, side))
		copy(img.Pix, pixels[i*side*side:(i+1)*side*side])
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		out.pngs = append(out.pngs, buf.Bytes())
		out.labels = append(out.labels, int(labels[i]))
	}
	return out, nil
}

// readIDX returns the payload of a gzipped IDX file (big-endian dims after a 4-byte magic).
func readIDX(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(gz)
	if err != nil {
		return nil, err
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("%s: not an IDX file", path)
	}
	dims := int(data[3])
	header := 4 + 4*dims
	if len(data) < header {
		return nil, fmt.Errorf("%s: truncated header", path)
	}
	size := 1
	for d := 0; d < dims; d++ {
		size *= int(binary.BigEndian.Uint32(data[4+4*d:]))
	}
	if len(data) != header+size {
		return nil, fmt.Errorf("%s: %d bytes of data, header says %d", path, len(data)-header, size)
	}
	return data[header:], nil
}

// catalogIDs lists up to n product ids of the catalog (for SearchSimilar), in id order.
func catalogIDs(ctx context.Context, stub pb.ProductSearchClient, catalog string, n int) ([]string, error) {
	var ids []string
	token := ""
	for len(ids) < n {
		page, err := stub.ListProducts(ctx, &pb.ListProductsRequest{PageSize: 1000, PageToken: token, Catalog: catalog})
		if err != nil {
			return nil, err
		}
		for _, p := range page.Products {
			ids = append(ids, p.Id)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(ids) > n {
		ids = ids[:n]
	}
	return ids, nil
}
