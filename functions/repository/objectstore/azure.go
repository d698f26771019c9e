package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/stashflow/stashflow/functions/restic"
)

// azureStore is a repository in an Azure Blob Storage container, through
// azblob, at https://<AZURE_ACCOUNT_NAME>.blob.<AZURE_ENDPOINT_SUFFIX,
// default core.windows.net>/<container>, as restic reaches it, with the
// account key (AZURE_ACCOUNT_KEY) or a SAS token (AZURE_ACCOUNT_SAS).
type azureStore struct {
	client            *container.Client
	container, prefix string
	account           string
}

// azureLocation parses azure:<container>:/<prefix> as restic does.
func azureLocation(loc string) (containerName, prefix string, err error) {
	containerName, prefix, ok := restic.AzureLocation(loc)
	if !ok {
		return "", "", errors.New("azure location: want azure:<container>:/<prefix>")
	}
	return containerName, cleanPrefix(prefix), nil
}

func openAzure(loc string, e env) (*azureStore, error) {
	name, prefix, err := azureLocation(loc)
	if err != nil {
		return nil, err
	}
	account := e.get("AZURE_ACCOUNT_NAME")
	if account == "" {
		return nil, errors.New("azure: AZURE_ACCOUNT_NAME is not set in the storage Secret")
	}
	suffix := first(e.get("AZURE_ENDPOINT_SUFFIX"), "core.windows.net")
	u := "https://" + account + ".blob." + suffix + "/" + name
	hc, err := e.httpClient()
	if err != nil {
		return nil, err
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}}
	s := &azureStore{container: name, prefix: prefix, account: account}
	switch key, sas := e.get("AZURE_ACCOUNT_KEY"), e.get("AZURE_ACCOUNT_SAS"); {
	case key != "":
		cred, err := container.NewSharedKeyCredential(account, key)
		if err != nil {
			return nil, fmt.Errorf("azure: AZURE_ACCOUNT_KEY of the storage Secret: %w", err)
		}
		s.client, err = container.NewClientWithSharedKeyCredential(u, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azure client: %w", err)
		}
	case sas != "":
		s.client, err = container.NewClientWithNoCredential(u+"?"+strings.TrimPrefix(sas, "?"), opts)
		if err != nil {
			return nil, errors.New("azure client: AZURE_ACCOUNT_SAS of the storage Secret does not make a valid URL")
		}
	default:
		return nil, errors.New("azure: neither AZURE_ACCOUNT_KEY nor AZURE_ACCOUNT_SAS is set in the storage Secret; repository-wipe needs one of them")
	}
	return s, nil
}

func (s *azureStore) String() string {
	return describe("azure", "container", s.container, s.prefix, "account "+s.account)
}

func (s *azureStore) List(ctx context.Context) ([]string, error) {
	p := under(s.prefix)
	pager := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &p})
	var names []string
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azureError(err)
		}
		for _, b := range resp.Segment.BlobItems {
			if b.Name != nil {
				names = append(names, strings.TrimPrefix(*b.Name, p))
			}
		}
	}
	return names, nil
}

func (s *azureStore) Delete(ctx context.Context, names []string) error {
	return deleteEach(ctx, names, func(ctx context.Context, n string) error {
		_, err := s.client.NewBlobClient(join(s.prefix, n)).Delete(ctx, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
			return fmt.Errorf("deleting %s: %w", n, azureError(err))
		}
		return nil
	})
}

// azureError is the service's status and error code, without the request
// (whose URL would carry a SAS token).
func azureError(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%d %s", re.StatusCode, re.ErrorCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery = ""
			return fmt.Errorf("%s %s: %w", ue.Op, u, ue.Err)
		}
		return ue.Err
	}
	return err
}
