package client

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListFolderPicksImagesSortedWithTitles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.png", "a.JPG", "c.webp", "d.jpeg", "notes.txt", "e.gif", "f.png.bak"} {
		write(t, filepath.Join(dir, name), "x")
	}
	write(t, filepath.Join(dir, "b.txt"), "  红色运动鞋\n")
	if err := os.Mkdir(filepath.Join(dir, "g.png"), 0o755); err != nil { // a folder, descended
		t.Fatal(err)
	}

	entries, err := ListFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []FolderEntry{
		{ID: "a", Path: filepath.Join(dir, "a.JPG")},
		{ID: "b", Path: filepath.Join(dir, "b.png"), Title: "红色运动鞋"},
		{ID: "c", Path: filepath.Join(dir, "c.webp")},
		{ID: "d", Path: filepath.Join(dir, "d.jpeg")},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Fatalf("got %+v\nwant %+v", entries, want)
	}
}

// The rule of server/tools/sources.py: any depth, hidden names skipped, links to files
// followed and links to folders not, id = relative path, category = the file's folder,
// title trimmed as Python's str.strip() after text-mode newlines, byte order of ids.
func TestListFolderIsTheServersRule(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "top.png"), "x")
	write(t, filepath.Join(dir, "Sneaker", "red_runner.png"), "x")
	write(t, filepath.Join(dir, "Sneaker", "red_runner.txt"), "\u3000 Red runner\r\nline two\x1c\r\n")
	write(t, filepath.Join(dir, "Sneaker", "Trail", "mud.JPEG"), "x")
	write(t, filepath.Join(dir, "Sneaker", ".hidden.png"), "x")
	write(t, filepath.Join(dir, ".cache", "x.png"), "x")
	write(t, filepath.Join(dir, "Sneaker", "readme.md"), "x")
	write(t, filepath.Join(dir, "broken", "x-y.jpg"), "x")
	write(t, filepath.Join(dir, "broken", "x", "y.jpg"), "x")
	write(t, filepath.Join(dir, "broken", "！.jpg"), "x")
	write(t, filepath.Join(dir, "broken", "😀.jpg"), "x")
	write(t, filepath.Join(dir, "real", "target.png"), "x")
	for link, target := range map[string]string{"link.png": "top.png", "linkdir": "real", "dangling.png": "absent.png"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}

	entries, err := ListFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got [][3]string
	for _, e := range entries {
		got = append(got, [3]string{e.ID, e.Category, e.Title})
	}
	want := [][3]string{
		{"Sneaker/Trail/mud", "Trail", ""},
		{"Sneaker/red_runner", "Sneaker", "Red runner\nline two"},
		{"broken/x-y", "broken", ""},
		{"broken/x/y", "x", ""},
		{"broken/！", "broken", ""},
		{"broken/😀", "broken", ""},
		{"link", "", ""},
		{"real/target", "real", ""},
		{"top", "", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestListFolderRejectsTitlesThatAreNotUTF8(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.png"), "x")
	write(t, filepath.Join(dir, "a.txt"), "\xff\xfe")
	if _, err := ListFolder(dir); err == nil {
		t.Fatal("want an error for a title that is not UTF-8")
	}
}

func TestCatalogName(t *testing.T) {
	for in, want := range map[string]string{"": "", "shop-a": "catalogs/shop-a", "catalogs/shop-a": "catalogs/shop-a"} {
		if got := CatalogName(in); got != want {
			t.Errorf("CatalogName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListFolderMissing(t *testing.T) {
	if _, err := ListFolder(filepath.Join(t.TempDir(), "absent")); !os.IsNotExist(err) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func TestCodeNames(t *testing.T) {
	for code, want := range map[codes.Code]string{
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.Unavailable: "UNAVAILABLE", codes.Canceled: "CANCELLED", codes.OK: "OK", codes.Code(99): "Code(99)",
	} {
		if got := CodeName(code); got != want {
			t.Errorf("CodeName(%d) = %q, want %q", code, got, want)
		}
	}
	if !IsStatus(status.Error(codes.NotFound, "x")) || IsStatus(os.ErrNotExist) || IsStatus(nil) {
		t.Error("IsStatus tells status errors from local ones")
	}
}

func TestDialRejectsNonPositiveDeadline(t *testing.T) {
	if _, err := Dial("127.0.0.1:1", WithDeadline(0)); err == nil {
		t.Fatal("want an error for a zero deadline")
	}
}

// recorder is a ProductSearch server that answers SearchByText with what the call carried.
type recorder struct {
	pb.UnimplementedProductSearchServer
	authorization []string
	deadline      time.Duration
	catalogs      []string
}

func (r *recorder) SearchByText(ctx context.Context, req *pb.SearchByTextRequest) (*pb.SearchResponse, error) {
	r.catalogs = append(r.catalogs, req.Catalog)
	md, _ := metadata.FromIncomingContext(ctx)
	r.authorization = md.Get("authorization")
	if deadline, ok := ctx.Deadline(); ok {
		r.deadline = time.Until(deadline)
	}
	return &pb.SearchResponse{Hits: []*pb.SearchHit{{
		Product: &pb.Product{Id: "sku-1", Title: req.Text},
		Score:   0.5,
		Signals: []*pb.SignalScore{{Signal: "title", Score: 0.5}},
	}}}, nil
}

func TestCallsCarryDeadlineAndAPIKey(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	rec := &recorder{}
	pb.RegisterProductSearchServer(server, rec)
	go server.Serve(listener)
	defer server.Stop()

	c, err := Dial(listener.Addr().String(), WithAPIKey("secret"), WithDeadline(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hits, err := c.SearchByText(context.Background(), "运动鞋", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Hit{{ProductID: "sku-1", Score: 0.5, Title: "运动鞋", Signals: map[string]float32{"title": 0.5}}}
	if !reflect.DeepEqual(hits, want) {
		t.Fatalf("hits %+v, want %+v", hits, want)
	}
	if !reflect.DeepEqual(rec.authorization, []string{"Bearer secret"}) {
		t.Errorf("authorization metadata %q", rec.authorization)
	}
	if rec.deadline <= 2*time.Second || rec.deadline > 3*time.Second {
		t.Errorf("server saw a deadline %v away, want about 3 s", rec.deadline)
	}

	_, err = c.SearchSimilar(context.Background(), "sku-1", 1)
	if status.Code(err) != codes.Unimplemented || !IsStatus(err) {
		t.Errorf("errors are gRPC statuses: got %v", err)
	}
}

func TestCallsNameTheClientsCatalogUnlessTheyNameAnother(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	rec := &recorder{}
	pb.RegisterProductSearchServer(server, rec)
	go server.Serve(listener)
	defer server.Stop()

	plain, err := Dial(listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	shop, err := Dial(listener.Addr().String(), WithCatalog("shop-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	ctx := context.Background()
	for _, search := range []func() error{
		func() error { _, err := plain.SearchByText(ctx, "a", 1); return err },
		func() error { _, err := shop.SearchByText(ctx, "a", 1); return err },
		func() error { _, err := shop.SearchByText(ctx, "a", 1, InCatalog("catalogs/shop-b")); return err },
		func() error { _, err := shop.SearchByText(ctx, "a", 1, InCatalog("")); return err },
	} {
		if err := search(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"", "catalogs/shop-a", "catalogs/shop-b", ""}
	if !reflect.DeepEqual(rec.catalogs, want) {
		t.Errorf("catalogs sent %q, want %q", rec.catalogs, want)
	}
}

// catalogServer pages through three catalogs, two a page, and records deletions.
type catalogServer struct {
	pb.UnimplementedProductSearchServer
	deleted []*pb.DeleteCatalogRequest
}

func (s *catalogServer) ListCatalogs(_ context.Context, req *pb.ListCatalogsRequest) (*pb.ListCatalogsResponse, error) {
	if req.PageToken == "" {
		return &pb.ListCatalogsResponse{
			Catalogs:      []*pb.Catalog{{Name: "catalogs/default"}, {Name: "catalogs/shop-a", ProductCount: 3}},
			NextPageToken: "opaque",
		}, nil
	}
	return &pb.ListCatalogsResponse{Catalogs: []*pb.Catalog{{Name: "catalogs/shop-b", CreateTime: 1.5}}}, nil
}

func (s *catalogServer) DeleteCatalog(_ context.Context, req *pb.DeleteCatalogRequest) (*pb.DeleteCatalogResponse, error) {
	s.deleted = append(s.deleted, req)
	return &pb.DeleteCatalogResponse{}, nil
}

func TestListCatalogsReadsEveryPage(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	fake := &catalogServer{}
	pb.RegisterProductSearchServer(server, fake)
	go server.Serve(listener)
	defer server.Stop()
	c, err := Dial(listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	catalogs, err := c.ListCatalogs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, catalog := range catalogs {
		ids = append(ids, catalog.ID())
	}
	if !reflect.DeepEqual(ids, []string{"default", "shop-a", "shop-b"}) || catalogs[1].ProductCount != 3 {
		t.Fatalf("catalogs %+v", catalogs)
	}
	if want := time.Unix(1, 5e8).UTC(); !catalogs[2].CreateTime.Equal(want) {
		t.Errorf("create time %v, want %v", catalogs[2].CreateTime, want)
	}
	if err := c.DeleteCatalog(context.Background(), "shop-b", true); err != nil {
		t.Fatal(err)
	}
	if len(fake.deleted) != 1 || fake.deleted[0].Name != "catalogs/shop-b" || !fake.deleted[0].Force {
		t.Errorf("deleted %v", fake.deleted)
	}
}
