module github.com/productsearch/productsearch/bench/loadgen

// build.sh builds offline in GOPATH mode (clients/go/goenv.sh), which ignores this file;
// online, `go mod tidy && go build .` uses it.
go 1.19

require (
	github.com/golang/protobuf v1.5.2
	github.com/productsearch/productsearch/clients/go v0.0.0
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

replace github.com/productsearch/productsearch/clients/go => ../../clients/go
