module github.com/productsearch/productsearch/clients/go

// build.sh builds offline in GOPATH mode against Debian's packages (see goenv.sh), which
// ignores this file; online, `go mod tidy && go build ./...` uses it.
go 1.19

require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
