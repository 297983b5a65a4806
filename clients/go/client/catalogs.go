package client

import (
	"context"
	"math"
	"strings"
	"time"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
)

// Catalog describes one catalog: a named, isolated collection of products.
type Catalog struct {
	// Name is the resource name, "catalogs/{id}".
	Name        string
	DisplayName string
	Description string
	CreateTime  time.Time
	// ProductCount is the number of products in it.
	ProductCount int64
}

// ID is the id in the name: "shop-a" of "catalogs/shop-a".
func (c Catalog) ID() string { return strings.TrimPrefix(c.Name, CatalogPrefix) }

func catalogFromProto(p *pb.Catalog) Catalog {
	seconds, fraction := math.Modf(p.GetCreateTime())
	return Catalog{
		Name:         p.GetName(),
		DisplayName:  p.GetDisplayName(),
		Description:  p.GetDescription(),
		CreateTime:   time.Unix(int64(seconds), int64(fraction*1e9)).UTC(),
		ProductCount: p.GetProductCount(),
	}
}

// CreateCatalog (admin) creates the empty catalog id ("shop-a": 1 to 63 of a-z, 0-9 and
// "-", starting with a letter); ALREADY_EXISTS when the id is taken.
func (c *Client) CreateCatalog(ctx context.Context, id, displayName, description string) (Catalog, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	response, err := c.stub.CreateCatalog(ctx, &pb.CreateCatalogRequest{
		CatalogId: strings.TrimPrefix(id, CatalogPrefix),
		Catalog:   &pb.Catalog{DisplayName: displayName, Description: description},
	})
	if err != nil {
		return Catalog{}, err
	}
	return catalogFromProto(response.GetCatalog()), nil
}

// GetCatalog describes one catalog (an id or a name; empty: the default catalog), with its
// product count. NOT_FOUND when it does not exist.
func (c *Client) GetCatalog(ctx context.Context, catalog string) (Catalog, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	name := CatalogName(catalog)
	if name == "" {
		name = CatalogPrefix + "default"
	}
	response, err := c.stub.GetCatalog(ctx, &pb.GetCatalogRequest{Name: name})
	if err != nil {
		return Catalog{}, err
	}
	return catalogFromProto(response.GetCatalog()), nil
}

// ListCatalogs returns every catalog the API key may use, in id order, reading all pages
// (the deadline bounds each page).
func (c *Client) ListCatalogs(ctx context.Context) ([]Catalog, error) {
	var catalogs []Catalog
	request := &pb.ListCatalogsRequest{}
	for {
		page, err := c.listCatalogsPage(ctx, request)
		if err != nil {
			return nil, err
		}
		for _, catalog := range page.GetCatalogs() {
			catalogs = append(catalogs, catalogFromProto(catalog))
		}
		if request.PageToken = page.GetNextPageToken(); request.PageToken == "" {
			return catalogs, nil
		}
	}
}

func (c *Client) listCatalogsPage(ctx context.Context, request *pb.ListCatalogsRequest) (*pb.ListCatalogsResponse, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	return c.stub.ListCatalogs(ctx, request)
}

// DeleteCatalog (admin) removes a catalog (an id or a name) with its products, vectors and
// models. Without force only an empty catalog is deleted (FAILED_PRECONDITION otherwise);
// the default catalog never is.
func (c *Client) DeleteCatalog(ctx context.Context, catalog string, force bool) error {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	_, err := c.stub.DeleteCatalog(ctx, &pb.DeleteCatalogRequest{Name: CatalogName(catalog), Force: force})
	return err
}
