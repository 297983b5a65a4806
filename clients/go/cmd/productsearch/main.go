// Command productsearch is the Go command-line client of the product search service; its
// arguments, output and exit codes are the same as every other language's client.
//
//	productsearch [--target HOST:PORT] [--deadline SECONDS] [--api-key KEY] [--catalog ID] COMMAND ...
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/productsearch/productsearch/clients/go/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const usage = `usage: productsearch [--target HOST:PORT] [--deadline SECONDS] [--api-key KEY] [--catalog ID] COMMAND ...
  upsert FOLDER                 stream every .jpg/.jpeg/.png/.webp file under FOLDER as a product
                                (id = relative path without extension, category = its folder,
                                title = <stem>.txt beside it; names starting with "." skipped)
  search-image PATH [--top-k N] products that look like the image at PATH
  search-text TEXT [--top-k N]  products matching a keyword (运动鞋, red sneakers, ...)
  similar PRODUCT_ID [--top-k N]
                                products that look like a catalog product
defaults: --target $PRODUCTSEARCH_TARGET or 127.0.0.1:50051, --deadline 10,
          --api-key $PRODUCTSEARCH_API_KEY (sent as "authorization: Bearer KEY"),
          --catalog $PRODUCTSEARCH_CATALOG or the default catalog (an id, shop-a, or a
          name, catalogs/shop-a), --top-k 10
exit status: 0 ok, 1 usage or local error, 2 the call failed (stderr: error: CODE: details)
`

const (
	exitOK    = 0
	exitUsage = 1
	exitRPC   = 2
)

// usageError is a bad command line: exit 1 with the usage text.
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// invocation is a parsed command line.
type invocation struct {
	target   string
	deadline time.Duration
	apiKey   string
	catalog  string
	command  string
	argument string
	topK     int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	inv, err := parse(args, os.Getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n%s", err, usage)
		return exitUsage
	}
	c, err := client.Dial(inv.target, client.WithDeadline(inv.deadline), client.WithAPIKey(inv.apiKey), client.WithCatalog(inv.catalog))
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitUsage
	}
	defer c.Close()
	if err := execute(context.Background(), c, inv, stdout); err != nil {
		if client.IsStatus(err) {
			s := status.Convert(err)
			fmt.Fprintf(stderr, "error: %s: %s\n", client.CodeName(s.Code()), s.Message())
			return exitRPC
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitUsage
	}
	return exitOK
}

var errHelp = errors.New("help")

// parse reads global options up to the command, then the command's argument and --top-k
// (before or after the argument). Options take "--name VALUE" or "--name=VALUE".
func parse(args []string, getenv func(string) string) (invocation, error) {
	inv := invocation{
		target:   getenv("PRODUCTSEARCH_TARGET"),
		deadline: client.DefaultDeadline,
		apiKey:   getenv("PRODUCTSEARCH_API_KEY"),
		catalog:  getenv("PRODUCTSEARCH_CATALOG"),
		topK:     10,
	}
	if inv.target == "" {
		inv.target = "127.0.0.1:50051"
	}
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		name, value, err := option(args, &i)
		if err != nil {
			return inv, err
		}
		switch name {
		case "--target":
			inv.target = value
		case "--api-key":
			inv.apiKey = value
		case "--catalog":
			inv.catalog = value
		case "--deadline":
			seconds, err := strconv.ParseFloat(value, 64)
			if err != nil || !(seconds > 0) || seconds > 1e9 {
				return inv, usagef("--deadline must be a positive number of seconds, got %q", value)
			}
			inv.deadline = time.Duration(seconds * float64(time.Second))
		default:
			return inv, usagef("unknown option %s", name)
		}
	}
	if i == len(args) {
		return inv, usagef("missing COMMAND")
	}
	inv.command = args[i]
	switch inv.command {
	case "upsert", "search-image", "search-text", "similar":
	default:
		return inv, usagef("unknown command %q", inv.command)
	}
	var positional []string
	for i++; i < len(args); i++ {
		if args[i] == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(args[i], "--") {
			positional = append(positional, args[i])
			continue
		}
		name, value, err := option(args, &i)
		if err != nil {
			return inv, err
		}
		if name != "--top-k" || inv.command == "upsert" {
			return inv, usagef("unknown option %s for %s", name, inv.command)
		}
		if inv.topK, err = strconv.Atoi(value); err != nil {
			return inv, usagef("--top-k must be an integer, got %q", value)
		}
	}
	if len(positional) != 1 {
		return inv, usagef("%s takes exactly one argument, got %d", inv.command, len(positional))
	}
	inv.argument = positional[0]
	return inv, nil
}

// option reads the option at args[*i] and its value, advancing *i past a separate value.
func option(args []string, i *int) (name, value string, err error) {
	arg := args[*i]
	if arg == "-h" || arg == "--help" {
		return "", "", errHelp
	}
	if eq := strings.IndexByte(arg, '='); eq >= 0 {
		return arg[:eq], arg[eq+1:], nil
	}
	if *i+1 >= len(args) {
		return "", "", usagef("%s needs a value", arg)
	}
	*i++
	return arg, args[*i], nil
}

func execute(ctx context.Context, c *client.Client, inv invocation, stdout io.Writer) error {
	var hits []client.Hit
	var err error
	switch inv.command {
	case "upsert":
		return upsert(ctx, c, inv.argument, stdout)
	case "search-image":
		image, readErr := os.ReadFile(inv.argument)
		if readErr != nil {
			return readErr
		}
		hits, err = c.SearchByImage(ctx, image, inv.topK)
	case "search-text":
		hits, err = c.SearchByText(ctx, inv.argument, inv.topK)
	case "similar":
		hits, err = c.SearchSimilar(ctx, inv.argument, inv.topK)
	}
	if err != nil {
		return err
	}
	for rank, hit := range hits {
		fmt.Fprintf(stdout, "%d\t%s\t%.4f\t%s\n", rank+1, hit.ProductID, float64(hit.Score), hit.Title)
	}
	return nil
}

func upsert(ctx context.Context, c *client.Client, folder string, stdout io.Writer) error {
	response, err := c.Upsert(ctx, folder)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "upserted %d failed %d\n", response.Upserted, response.Failed)
	for _, s := range response.Statuses {
		if code := codes.Code(s.Code); code != codes.OK {
			fmt.Fprintf(stdout, "failed\t%s\t%s\t%s\n", s.Id, client.CodeName(code), s.Message)
		}
	}
	return nil
}
