//! Payment drills (live settings, [`crate::live::Drills`]): a gateway in front of the real one that delays calls
//! and fails a share of them, as a failing gateway would, before they reach it. What a drill fails was never
//! sent: nothing is charged or refunded, and the breaker and the shopper see a gateway error.

use super::gateway::{ChargeOutcome, ChargeRequest, GatewayError, GatewayFuture, PaymentGateway, RefundRequest};
use crate::live::{self, Live};
use std::sync::Arc;

pub struct DrillGateway {
    gateway: Arc<dyn PaymentGateway>,
    live: Live,
}

impl DrillGateway {
    /// `gateway` behind the drills that `live` turns on (none, until it does).
    pub fn new(gateway: Arc<dyn PaymentGateway>, live: Live) -> Self {
        Self { gateway, live }
    }

    async fn drill(&self) -> Result<(), GatewayError> {
        let drills = self.live.get().drills;
        live::delay(drills.payment_latency_ms).await;
        if live::fails(drills.payment_failure_rate) {
            return Err(GatewayError::Unavailable("payment drill: a failure injected on purpose".into()));
        }
        Ok(())
    }
}

impl PaymentGateway for DrillGateway {
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome> {
        Box::pin(async move {
            self.drill().await?;
            self.gateway.charge(request).await
        })
    }

    /// Not drilled: settling what is in flight asks what the gateway already knows.
    fn find_charge(&self, idempotency_key: String) -> GatewayFuture<'_, Option<ChargeOutcome>> {
        self.gateway.find_charge(idempotency_key)
    }

    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, String> {
        Box::pin(async move {
            self.drill().await?;
            self.gateway.refund(request).await
        })
    }
}
