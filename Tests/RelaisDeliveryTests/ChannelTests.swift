import Testing
import RelaisDelivery
