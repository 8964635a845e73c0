// Command hello is a Lambda function written with aws-lambda-go, to deploy
// on Lambada (or AWS) as a provided.al2023 function. Build and zip it with:
//
//	(cd examples/hello && CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap . && python3 -m zipfile -c hello.zip bootstrap)
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Name string `json:"name"`
}

type response struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

func handle(ctx context.Context, req request) (response, error) {
	if req.Name == "" {
		req.Name = "nobody"
	}
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("saying hello to %s\n", req.Name)
	return response{Message: "Hello, " + req.Name + "!", RequestID: lc.AwsRequestID}, nil
}

func main() { lambda.Start(handle) }
