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
	if err := os.Mkdir(filepath.Join(dir, "g.png"), 0o755); err != nil {
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
}

func (r *recorder) SearchByText(ctx context.Context, req *pb.SearchByTextRequest) (*pb.SearchResponse, error) {
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
