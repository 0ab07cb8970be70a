import Mustache
import RelaisDomain
