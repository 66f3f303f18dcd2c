// The comparison anchor of bench/compare.sh: grpc-gateway v2 generated from proto/metro, default
// ServeMux options, in front of the backends the stack names in METRO_<SERVICE>_GRPC (stack.env).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	// The services' errors carry google.rpc.ErrorInfo details: without the type registered the
	// default error handler cannot marshal them and answers 500.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	authv1 "metro.bench/grpcgateway/gen/metro/auth/v1"
	controlv1 "metro.bench/grpcgateway/gen/metro/control/v1"
	managementv1 "metro.bench/grpcgateway/gen/metro/management/v1"
	notificationv1 "metro.bench/grpcgateway/gen/metro/notification/v1"
	paymentv1 "metro.bench/grpcgateway/gen/metro/payment/v1"
	publicv1 "metro.bench/grpcgateway/gen/metro/public/v1"
	schedulerv1 "metro.bench/grpcgateway/gen/metro/scheduler/v1"
	ticketv1 "metro.bench/grpcgateway/gen/metro/ticket/v1"
	transportv1 "metro.bench/grpcgateway/gen/metro/transport/v1"
	userv1 "metro.bench/grpcgateway/gen/metro/user/v1"
	webhookv1 "metro.bench/grpcgateway/gen/metro/webhook/v1"
)

type register func(context.Context, *runtime.ServeMux, string, []grpc.DialOption) error

// Every Metro service with google.api.http routes but report (see build.sh), by the variable
// holding its address.
var services = []struct {
	env      string
	register register
}{
	{"METRO_AUTH_GRPC", authv1.RegisterAuthServiceHandlerFromEndpoint},
	{"METRO_USER_GRPC", userv1.RegisterUserServiceHandlerFromEndpoint},
	{"METRO_TRANSPORT_GRPC", transportv1.RegisterTransportServiceHandlerFromEndpoint},
	{"METRO_TICKET_GRPC", ticketv1.RegisterTicketServiceHandlerFromEndpoint},
	{"METRO_PUBLIC_GRPC", publicv1.RegisterPublicServiceHandlerFromEndpoint},
	{"METRO_PAYMENT_GRPC", paymentv1.RegisterPaymentServiceHandlerFromEndpoint},
	{"METRO_WEBHOOK_GRPC", webhookv1.RegisterWebhookServiceHandlerFromEndpoint},
	{"METRO_NOTIFICATION_GRPC", notificationv1.RegisterNotificationServiceHandlerFromEndpoint},
	{"METRO_CONTROL_GRPC", controlv1.RegisterControlServiceHandlerFromEndpoint},
	{"METRO_SCHEDULER_GRPC", schedulerv1.RegisterSchedulerServiceHandlerFromEndpoint},
	{"METRO_MANAGEMENT_GRPC", managementv1.RegisterManagementServiceHandlerFromEndpoint},
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "REST listen address")
	flag.Parse()
	mux := runtime.NewServeMux()
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	n := 0
	for _, s := range services {
		addr := os.Getenv(s.env)
		if addr == "" {
			continue
		}
		if err := s.register(context.Background(), mux, addr, dial); err != nil {
			log.Fatalf("%s=%s: %v", s.env, addr, err)
		}
		n++
	}
	if n == 0 {
		log.Fatal("no METRO_<SERVICE>_GRPC address set")
	}
	log.Printf("grpc-gateway: %d services, listening on %s", n, *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
